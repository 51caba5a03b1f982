import { readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { eventsDbRangeSourceInDir } from '../adapters/driven/store/sqlite/events-db-reader.ts';
import { replayInWorkers } from '../adapters/replay-workers/pool.ts';
import { workerLoader } from '../adapters/replay-workers/worker-bundle.ts';
import { replayAll } from '../projections/replay/index.ts';
import { dataDirs } from './replay.fixtures.ts';
import { establishedFleet } from './support/fleet.ts';

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/** The one bundle built in `cacheDir`: its manifest (current.json) and folder. */
const builtIn = (cacheDir: string) => {
  const [key] = readdirSync(cacheDir);
  const current = join(cacheDir, key!, 'current.json');
  const manifest = JSON.parse(readFileSync(current, 'utf8')) as {
    build: string;
    entries: Record<string, { source: string; output: string }>;
    inputs: Record<string, string>;
    outputs: Record<string, string>;
  };
  return { current, manifest, dir: join(cacheDir, key!, manifest.build) };
};

describe('replay workers started from a prebuilt bundle, never a stale one', () => {
  const tempDir = dataDirs('credence-replay-bundle-');

  it('builds the bundle on first use, starts the workers from it, and gives the one-pass verdict', async () => {
    const cacheDir = tempDir();
    const dir = tempDir();
    const { store } = await establishedFleet(6, openSqliteStoreInDir(dir));
    try {
      const single = await replayAll(store);
      const source = eventsDbRangeSourceInDir(dir);
      const first = await replayInWorkers(store, { workers: 2, source, bundle: { cacheDir } });
      expect(first.loader).toEqual({ kind: 'bundle', built: true });
      expect(first.replay).toEqual(single);
      const again = await replayInWorkers(store, { workers: 2, source, bundle: { cacheDir } });
      expect(again.loader).toEqual({ kind: 'bundle', built: false });
      expect(again.replay).toEqual(single);
      // The manifest names every input esbuild read, our sources and the bundled packages, with their hashes.
      const { manifest } = builtIn(cacheDir);
      expect(Object.keys(manifest.entries).sort()).toEqual([expect.stringMatching(/^module-[0-9a-f]{16}$/), 'replay-worker']);
      for (const input of ['adapters/replay-workers/replay-worker.ts', 'machines/credential.machine.ts', 'adapters/driven/store/sqlite/events-db-reader.ts']) {
        expect(manifest.inputs[input]).toBe(sha256(readFileSync(input)));
      }
      expect(Object.keys(manifest.inputs).some((i) => i.startsWith('node_modules/zod/'))).toBe(true);
      // Through tsx, on request: the same verdict.
      const tsx = await replayInWorkers(store, { workers: 2, source, bundle: false });
      expect(tsx.loader).toEqual({ kind: 'tsx', reason: 'options.bundle is false' });
      expect(tsx.replay).toEqual(single);
      if (process.platform === 'linux') {
        for (const phases of again.workerPhasesMs!) for (const ms of Object.values(phases)) expect(ms).toBeGreaterThanOrEqual(0);
        expect(again.workerPhasesMs!.every((p) => p.load > 0)).toBe(true);
      }
    } finally {
      await store.close();
    }
  }, 180_000);

  it('does not run a bundle whose sources changed since it was built: tsx instead, or a rebuild', async () => {
    const cacheDir = tempDir();
    const { store } = await establishedFleet(4);
    const single = await replayAll(store);
    expect((await replayInWorkers(store, { workers: 2, bundle: { cacheDir } })).loader).toEqual({ kind: 'bundle', built: true });
    // The bundle as it would be after `machines/credential.machine.ts` was edited: the manifest's hash of that input is
    // no longer the file's. Its worker is replaced by one that fails if it ever starts (its own hash kept right, so
    // only the changed source can tell).
    const { current, manifest, dir } = builtIn(cacheDir);
    const worker = join(dir, manifest.entries['replay-worker']!.output);
    const poisoned = "throw new Error('a stale replay worker bundle ran');\n";
    writeFileSync(worker, poisoned);
    manifest.outputs[manifest.entries['replay-worker']!.output] = sha256(poisoned);
    manifest.inputs['machines/credential.machine.ts'] = sha256('the machine as it was when the bundle was built');
    writeFileSync(current, JSON.stringify(manifest));

    const stale = await replayInWorkers(store, { workers: 2, bundle: { cacheDir, build: false } });
    expect(stale.loader).toEqual({ kind: 'tsx', reason: 'the bundle is stale: its input machines/credential.machine.ts changed' });
    expect(stale.replay).toEqual(single);
    // Allowed to build, the pool rebuilds it from the sources and starts from the new bundle.
    const rebuilt = await replayInWorkers(store, { workers: 2, bundle: { cacheDir } });
    expect(rebuilt.loader).toEqual({ kind: 'bundle', built: true });
    expect(rebuilt.replay).toEqual(single);
    const after = builtIn(cacheDir);
    expect(after.manifest.inputs['machines/credential.machine.ts']).toBe(sha256(readFileSync('machines/credential.machine.ts')));
    expect(readFileSync(join(after.dir, after.manifest.entries['replay-worker']!.output), 'utf8')).not.toBe(poisoned);
  }, 180_000);

  it('does not run a bundle altered after it was built, nor one whose manifest is unreadable', async () => {
    const cacheDir = tempDir();
    expect((await workerLoader([], { cacheDir })).kind).toBe('bundle');
    const { current, manifest, dir } = builtIn(cacheDir);
    const output = manifest.entries['replay-worker']!.output;
    writeFileSync(join(dir, output), `${readFileSync(join(dir, output), 'utf8')}\nglobalThis.altered = true;\n`);
    expect(await workerLoader([], { cacheDir, build: false })).toEqual({ kind: 'tsx', reason: `the bundle is stale: its output ${output} was altered` });

    writeFileSync(current, JSON.stringify({ ...manifest, outputs: { '../../outside.js': manifest.outputs[output] } }));
    expect(await workerLoader([], { cacheDir, build: false })).toEqual({ kind: 'tsx', reason: 'the bundle is stale: its output ../../outside.js is outside the build folder' });

    // An entry must be one of the outputs checked by hash: a worker file the manifest does not hash is never run.
    const unhashed = join(dir, '..', 'unhashed-worker.js');
    writeFileSync(unhashed, "throw new Error('an unhashed replay worker ran');\n");
    writeFileSync(current, JSON.stringify({
      ...manifest,
      entries: { 'replay-worker': { source: manifest.entries['replay-worker']!.source, output: '../unhashed-worker.js' } },
      outputs: { ...manifest.outputs, [output]: sha256(readFileSync(join(dir, output))) },
    }));
    expect(await workerLoader([], { cacheDir, build: false })).toEqual({ kind: 'tsx', reason: 'its entry replay-worker is not one of its outputs (../unhashed-worker.js)' });

    writeFileSync(current, '{"format": 1, "build": "not hex"');
    const unreadable = await workerLoader([], { cacheDir, build: false });
    expect(unreadable.kind === 'tsx' && unreadable.reason).toMatch(/current\.json is unreadable/);
    // Sized before it is read: a file larger than any manifest is refused without being read into memory.
    writeFileSync(current, Buffer.alloc(1_000_001, 0x20));
    expect(await workerLoader([], { cacheDir, build: false })).toEqual({ kind: 'tsx', reason: `${current} is larger than a manifest can be` });
    writeFileSync(current, JSON.stringify({ ...manifest, format: 99 }));
    const otherFormat = await workerLoader([], { cacheDir, build: false });
    expect(otherFormat.kind === 'tsx' && otherFormat.reason).toMatch(/current\.json: format: /);
    // Rebuilt when allowed.
    expect(await workerLoader([], { cacheDir })).toMatchObject({ kind: 'bundle', built: true });
    // A module named by another spelling of its file: URL is found by the spelling the caller gave (the pool asks so).
    const reader = `file://localhost${join(process.cwd(), 'adapters/driven/store/sqlite/events-db-reader.ts')}`;
    const spelled = await workerLoader([reader], { cacheDir });
    expect(spelled.kind === 'bundle' && spelled.modules.get(reader)).toMatch(/^file:\/\/\/.*\.js$/);
    // And through a symbolic link to its folder: the same file, the same bundle (esbuild names files by their real path).
    const linked = join(tempDir(), 'sqlite');
    symlinkSync(join(process.cwd(), 'adapters/driven/store/sqlite'), linked);
    const viaLink = pathToFileURL(join(linked, 'events-db-reader.ts')).href;
    const throughLink = await workerLoader([viaLink], { cacheDir });
    expect(throughLink).toMatchObject({ kind: 'bundle', built: false });
    expect(throughLink.kind === 'bundle' && throughLink.modules.get(viaLink)).toBe(spelled.kind === 'bundle' && spelled.modules.get(reader));
    expect(await workerLoader(['https://example.org/reader.js'], { cacheDir })).toEqual({
      kind: 'tsx', reason: 'worker module https://example.org/reader.js: only file: URLs can be bundled',
    });
  }, 180_000);
});
