import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { lockDataFolder, SERVICE_LOCK_FILE, type DataFolderLock } from '../adapters/runtime/index.ts';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { cmd, establishOne, fixture } from './support/fleet.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * `credence replay` wrote replay-checkpoint.json into the data folder without the folder's lock: beside a running
 * service (whose start sweeps the temps of interrupted writes, taking every writer of the folder to hold its lock), and
 * beside another replay. It now writes its checkpoint only while it holds the lock, for the write alone; beside a
 * holder it gives its verdict as before and says on stderr that the checkpoint is not saved.
 */
describe('credence replay on the data folder of a running service', () => {
  const folder = temporaryFolders('credence-replay-beside-service-');
  let service: DataFolderLock | undefined;
  afterEach(() => {
    service?.release();
    service = undefined;
  });

  const seed = async (dir: string, nodes: readonly string[] = []): Promise<void> => {
    const store = openSqliteStoreInDir(dir);
    try {
      const { engine } = fixture(store);
      if (nodes.length === 0) await establishOne(engine);
      for (const id of nodes) await engine.execute(cmd.registerNode(id));
    } finally {
      await store.close();
    }
  };
  const checkpointFiles = (dir: string) => readdirSync(dir).filter((name) => name.includes('replay-checkpoint'));

  it('gives its verdict and exit code, and writes no checkpoint while the service holds the folder', async () => {
    const dir = join(folder(), 'data');
    await seed(dir);
    service = lockDataFolder(dir);

    const beside = capture();
    expect(await main(['replay', '--data', dir], beside.io), beside.err.join('\n')).toBe(0);
    expect(beside.out).toContain('verdict: every stored transition is legal');
    expect(checkpointFiles(dir)).toEqual([]);
    expect(beside.err.join('\n')).toMatch(
      new RegExp(`credence replay: the replay checkpoint is not saved: .* is in use by process ${process.pid} on .* \\(${SERVICE_LOCK_FILE}\\)`),
    );

    // --json: the same verdict, the reason on stderr and in the verdict's notes, for a script to see (review 65).
    const json = capture();
    expect(await main(['replay', '--data', dir, '--json'], json.io)).toBe(0);
    const verdict = JSON.parse(json.out.join('\n')) as { verification: { notes: string[] } };
    expect(verdict).toMatchObject({ ok: true, verification: { mode: 'full' } });
    expect(verdict.verification.notes.some((n) => n.startsWith('the replay checkpoint is not saved: '))).toBe(true);
    expect(checkpointFiles(dir)).toEqual([]);
    expect(json.err.join('\n')).toMatch(/the replay checkpoint is not saved/);
  }, 60_000);

  it('leaves the checkpoint there is while the service holds the folder, and moves it once the folder is free', async () => {
    const dir = join(folder(), 'data');
    await seed(dir);
    expect(await main(['replay', '--data', dir], capture().io)).toBe(0);
    const path = join(dir, 'replay-checkpoint.json');
    const first = readFileSync(path, 'utf8');
    // The lock was taken for the write alone: a service starts on the folder right after.
    expect(existsSync(join(dir, SERVICE_LOCK_FILE))).toBe(false);
    service = lockDataFolder(dir);
    await seed(dir, ['meter-2', 'meter-3']);

    const beside = capture();
    expect(await main(['replay', '--data', dir], beside.io)).toBe(0);
    expect(beside.out[0]).toMatch(/^replayed \d+ events \(2 new after the checkpoint at position \d+;/);
    expect(readFileSync(path, 'utf8')).toBe(first);
    expect(checkpointFiles(dir)).toEqual(['replay-checkpoint.json']);
    expect(beside.err.join('\n')).toMatch(/the replay checkpoint is not saved: .* in use by process/);

    service.release();
    service = undefined;
    const free = capture();
    expect(await main(['replay', '--data', dir], free.io)).toBe(0);
    expect(free.err).toEqual([]);
    expect(readFileSync(path, 'utf8')).not.toBe(first);
    const again = capture();
    expect(await main(['replay', '--data', dir], again.io)).toBe(0);
    expect(again.out[0]).toMatch(/^replayed \d+ events \(0 new after the checkpoint/);
  }, 60_000);
});
