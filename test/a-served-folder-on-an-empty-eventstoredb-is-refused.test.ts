import { existsSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startStandIn, type StandIn } from './esdb-standin/index.ts';
import { folderSnapshot, servedFolderWith, startRefusedOn } from './support/served-folder.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 84, left from its fix: a data folder served on an EventStoreDB store, started on an empty one (the setting
 * pointed at a new server), was served as an empty fleet: its read models wiped and rebuilt empty, and, its log moved
 * aside, a new log started over nothing. The embedded store's counterpart (events.db missing) was refused at start;
 * this one now is too, naming the setting and what the folder holds, before anything is written.
 */
const scratch = temporaryFolders('credence-served-folder-empty-esdb-');

// Each test's own: the store its folder was served on, and a new, empty one.
let held: StandIn;
let empty: StandIn;
beforeEach(async () => {
  held = await startStandIn();
  empty = await startStandIn();
});
afterEach(async () => {
  await held.stop();
  await empty.stop();
});

describe('a data folder served on EventStoreDB, started on an empty one', () => {
  it('is refused, naming the store setting and the log and read models, nothing written to the folder or the store', async () => {
    const data = scratch();
    await servedFolderWith(data, ['meter-1'], held.connectionString);
    const before = folderSnapshot(data);
    const appended = empty.log.all.length;

    const refused = await startRefusedOn(data, empty.connectionString);

    expect(refused).toMatch(/^store event_store_empty:/);
    expect(refused).toMatch(/transparency\.db has logged \d+ events/);
    expect(refused).toMatch(/readmodels\.db holds read models/);
    expect(refused).toMatch(/Restoring the event store from a backup/);
    expect(refused).not.toContain(empty.connectionString);
    expect(folderSnapshot(data)).toEqual(before);
    expect(empty.log.all.length).toBe(appended);
  }, 120_000);

  it('is refused for its read models alone, its log moved aside for a new one (restore step 4)', async () => {
    const data = scratch();
    const aside = scratch();
    await servedFolderWith(data, ['meter-2'], held.connectionString);
    for (const name of readdirSync(data).filter((n) => n.startsWith('transparency.'))) renameSync(join(data, name), join(aside, name));
    const before = folderSnapshot(data);

    const refused = await startRefusedOn(data, empty.connectionString);

    expect(refused).toMatch(/^store event_store_empty:/);
    expect(refused).toMatch(/readmodels\.db holds read models/);
    expect(folderSnapshot(data)).toEqual(before);
    expect(existsSync(join(data, 'transparency.db'))).toBe(false);
  }, 120_000);

  it('starts on the store that holds its events, and a new folder starts on an empty store', async () => {
    const data = scratch();
    await servedFolderWith(data, ['meter-3'], held.connectionString);
    await (await startTestService({ dir: data, config: { store: held.connectionString } })).close();

    const fresh = join(scratch(), 'data');
    await (await startTestService({ dir: fresh, config: { store: empty.connectionString } })).close();
    expect(existsSync(join(fresh, 'transparency.db'))).toBe(true);
  }, 120_000);
});
