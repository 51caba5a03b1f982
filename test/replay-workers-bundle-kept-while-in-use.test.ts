import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeOldBuilds } from '../adapters/replay-workers/bundle-leases.ts';
import { workerLoader } from '../adapters/replay-workers/worker-bundle.ts';
import { dataDirs } from './replay.fixtures.ts';

/*
 * A rebuild of the replay workers' bundle removes the builds no manifest points to any more. A process whose workers
 * start from an old build (a replay begun before another process rebuilt) must keep it: each process leases the build
 * it is handed for as long as it runs, and only builds leased by no running process go, after the grace period.
 */
describe('replay worker bundle builds in use are kept', () => {
  const tempDir = dataDirs('credence-replay-bundle-lease-');
  /** A cache holding the bundle built now: its folder, the folder of its key, and the build current there. */
  const builtCache = async () => {
    const cacheDir = tempDir();
    expect((await workerLoader([], { cacheDir })).kind).toBe('bundle');
    const [key] = readdirSync(cacheDir);
    const keyDir = join(cacheDir, key!);
    const current = (JSON.parse(readFileSync(join(keyDir, 'current.json'), 'utf8')) as { build: string }).build;
    return { cacheDir, keyDir, current };
  };

  it('keeps an old build a running process leased, and removes those whose users have ended', async () => {
    const { cacheDir, keyDir, current } = await builtCache();
    // The build this process was handed is leased by it.
    expect(existsSync(join(keyDir, `lease.${current}.${process.pid}`))).toBe(true);

    // Three older builds, two minutes old (past the grace period): one used by this process, one by a process that
    // has ended, one by none.
    const ended = spawnSync(process.execPath, ['-e', '']).pid!;
    const olderBuild = (build: string, leasedBy?: number): void => {
      cpSync(join(keyDir, current), join(keyDir, build), { recursive: true });
      if (leasedBy !== undefined) writeFileSync(join(keyDir, `lease.${build}.${leasedBy}`), '');
      const then = new Date(Date.now() - 120_000);
      utimesSync(join(keyDir, build), then, then);
    };
    olderBuild('00000000000000a1', process.pid);
    olderBuild('00000000000000a2', ended);
    olderBuild('00000000000000a3');
    removeOldBuilds(keyDir, current);

    const left = readdirSync(keyDir).sort();
    expect(left).toContain('00000000000000a1');
    expect(left).toContain(`lease.00000000000000a1.${process.pid}`);
    expect(left).not.toContain('00000000000000a2');
    expect(left).not.toContain(`lease.00000000000000a2.${ended}`);
    expect(left).not.toContain('00000000000000a3');
    expect(left).toContain(current);
    // Handed out again, the current build is fresh and still used from where it was.
    expect(await workerLoader([], { cacheDir, build: false })).toMatchObject({ kind: 'bundle', built: false });
  }, 120_000);

  it('keeps a build as young as the grace period even unleased: a process may have read its manifest and not yet leased it', async () => {
    const { keyDir, current } = await builtCache();
    cpSync(join(keyDir, current), join(keyDir, '00000000000000b1'), { recursive: true });
    removeOldBuilds(keyDir, current);
    expect(readdirSync(keyDir)).toContain('00000000000000b1');
  }, 120_000);

  it('keeps an old build that was current until this rebuild for the grace period: a process may have read its manifest just before', async () => {
    const { cacheDir, keyDir } = await builtCache();
    const pointer = join(keyDir, 'current.json');
    const manifest = JSON.parse(readFileSync(pointer, 'utf8')) as { build: string; entries: Record<string, { source: string }> };
    // An older build, made long ago and current until now; its manifest names another entry (so this process takes
    // the rebuild path without leasing it, as a process that read the manifest and has not leased yet).
    const older = '00000000000000c1';
    cpSync(join(keyDir, manifest.build), join(keyDir, older), { recursive: true });
    const then = new Date(Date.now() - 3_600_000);
    utimesSync(join(keyDir, older), then, then);
    const entry = Object.keys(manifest.entries)[0]!;
    writeFileSync(pointer, JSON.stringify({ ...manifest, build: older, entries: { ...manifest.entries, [entry]: { ...manifest.entries[entry]!, source: 'elsewhere.ts' } } }));
    for (const name of readdirSync(keyDir)) if (name.startsWith('lease.')) rmSync(join(keyDir, name));

    expect(await workerLoader([], { cacheDir })).toMatchObject({ kind: 'bundle' });
    expect(readdirSync(keyDir)).toContain(older);
  }, 120_000);

  it('removes the leases of ended processes when a build is handed out, not only on a rebuild (they would pile up)', async () => {
    const { cacheDir, keyDir, current } = await builtCache();
    const ended = spawnSync(process.execPath, ['-e', '']).pid!;
    writeFileSync(join(keyDir, `lease.${current}.${ended}`), '');

    expect(await workerLoader([], { cacheDir, build: false })).toMatchObject({ kind: 'bundle', built: false });
    const left = readdirSync(keyDir);
    expect(left).not.toContain(`lease.${current}.${ended}`);
    expect(left).toContain(`lease.${current}.${process.pid}`);
  }, 120_000);
});
