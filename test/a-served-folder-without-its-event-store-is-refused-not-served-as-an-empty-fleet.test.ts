import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { runCli } from './support/cli.ts';
import { cmd } from './support/fleet.ts';
import { folderSnapshot, servedFolderWith } from './support/served-folder.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 84, finding 3: an events.db missing from a folder that was served (a backup put back under a wrong name) was
 * made afresh, empty: `credence serve` rebuilt the read models as empty, started a new log and took commands, and
 * `credence start` wrote the demo fleet into it. The start is now refused before anything is written, naming the file
 * and what to put back; a new folder, and one that has only what `token create` and `ca init` make before the first
 * start, still start.
 */
const scratch = temporaryFolders('credence-served-folder-without-events-');

/** What README step 1 moves aside, and the backup then put back under a wrong name: no events.db in `dir`. */
const eventStoreMissing = (dir: string, aside: string): void => {
  for (const name of readdirSync(dir).filter((n) => n.startsWith('events.db'))) renameSync(join(dir, name), join(aside, name));
};

/** README step 4: the log moved aside with its key's handle and public key. */
const logMovedAside = (dir: string, aside: string): void => {
  for (const name of readdirSync(dir).filter((n) => n.startsWith('transparency.'))) renameSync(join(dir, name), join(aside, name));
};

const refusedNamingTheFile = (refused: { code: number; err: string }, data: string): void => {
  expect(refused.code).not.toBe(0);
  expect(refused.err).toContain(join(data, 'events.db'));
  expect(refused.err).toMatch(/Restoring the event store from a backup/);
};

describe('a served data folder whose events.db is missing', () => {
  it('after steps 1 and 4 (its read models left): serve and start are refused, naming events.db; nothing is written', async () => {
    const data = scratch();
    const aside = scratch();
    await servedFolderWith(data, ['meter-1', 'meter-2']);
    eventStoreMissing(data, aside);
    logMovedAside(data, aside);
    const before = folderSnapshot(data);

    const served = await runCli(['serve', '--data', data, '--port', '0', '--log-level', 'silent']);
    refusedNamingTheFile(served, data);
    expect(served.err).toMatch(/readmodels\.db/);
    expect(folderSnapshot(data)).toEqual(before);

    // npm start: no demo fleet written into a new store.
    const started = await runCli(['start', '--data', data, '--port', '0', '--log-level', 'silent']);
    refusedNamingTheFile(started, data);
    expect(existsSync(join(data, 'devices'))).toBe(false);
    expect(folderSnapshot(data)).toEqual(before);
  }, 120_000);

  it('with its log in place and its read models deleted: refused for the events transparency.db has logged', async () => {
    const data = scratch();
    const aside = scratch();
    await servedFolderWith(data, ['meter-1']);
    eventStoreMissing(data, aside);
    for (const name of readdirSync(data).filter((n) => n.startsWith('readmodels.db'))) rmSync(join(data, name));
    const before = folderSnapshot(data);

    const served = await runCli(['serve', '--data', data, '--port', '0', '--log-level', 'silent']);

    refusedNamingTheFile(served, data);
    expect(served.err).toMatch(/transparency\.db/);
    expect(folderSnapshot(data)).toEqual(before);
  }, 120_000);

  it('is refused by openCredence too (a program on the embedded store), nothing written', async () => {
    const dir = scratch();
    const aside = scratch();
    const clock = new FakeClock(new Date('2026-01-01T00:00:00.000Z'));
    const opened = openCredence({ location: { dir }, clock });
    await opened.engine.execute(cmd.registerNode('meter-1'));
    await opened.settle();
    await opened.close();
    eventStoreMissing(dir, aside);
    const before = folderSnapshot(dir);

    expect(() => openCredence({ location: { dir }, clock })).toThrow(/events\.db[\s\S]*Restoring the event store from a backup/);

    expect(folderSnapshot(dir)).toEqual(before);
  });
});

/** An empty store made in place of the folder's own (its events.db moved aside first). */
const emptyEventStoreInPlace = async (dir: string, aside: string): Promise<void> => {
  eventStoreMissing(dir, aside);
  await openSqliteStoreInDir(dir).close();
};

describe('a served data folder whose events.db holds no event', () => {
  it('is refused by serve and openCredence, naming the file and the events its log and read models hold; nothing is written', async () => {
    const data = scratch();
    const aside = scratch();
    await servedFolderWith(data, ['meter-1', 'meter-2']);
    await emptyEventStoreInPlace(data, aside);
    const before = folderSnapshot(data);

    const served = await runCli(['serve', '--data', data, '--port', '0', '--log-level', 'silent']);
    expect(served.code).not.toBe(0);
    expect(served.err).toContain(`${join(data, 'events.db')} holds no event`);
    expect(served.err).toMatch(/transparency\.db has logged \d+ events/);
    expect(served.err).toMatch(/readmodels\.db holds read models built from them/);
    expect(folderSnapshot(data)).toEqual(before);

    const clock = new FakeClock(new Date('2026-01-01T00:00:00.000Z'));
    expect(() => openCredence({ location: { dir: data }, clock })).toThrow(/events\.db holds no event[\s\S]*Restoring the event store from a backup/);
    expect(() => openCredence({ location: { dir: data }, clock })).toThrow(
      expect.objectContaining({ problem: expect.objectContaining({ issues: [expect.objectContaining({ path: 'location.dir', rule: 'event_store_empty' })] }) }),
    );
    expect(folderSnapshot(data)).toEqual(before);
  }, 120_000);

  it('is served when its log and read models hold no event either (a folder served on an empty store, started again)', async () => {
    const data = join(scratch(), 'data');
    await (await startTestService({ dir: data })).close();
    await (await startTestService({ dir: data })).close();
    expect(existsSync(join(data, 'events.db'))).toBe(true);
  }, 120_000);
});

describe('a data folder before its first start', () => {
  it('starts when new, and when it holds only what token create and ca init made', async () => {
    const fresh = join(scratch(), 'data');
    await (await startTestService({ dir: fresh })).close();
    expect(existsSync(join(fresh, 'events.db'))).toBe(true);

    const prepared = join(scratch(), 'data');
    mkdirSync(prepared);
    expect((await runCli(['token', 'create', '--data', prepared, '--role', 'admin', '--subject', 'root', '--ttl', '1h'])).code).toBe(0);
    expect((await runCli(['ca', 'init', '--data', prepared, '--json'])).code).toBe(0);
    const svc = await startTestService({ dir: prepared });
    await svc.close();
    expect(existsSync(join(prepared, 'events.db'))).toBe(true);
  }, 120_000);
});
