import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startStandIn, type StandIn } from './esdb-standin/index.ts';
import { folderSnapshot, servedFolderWith, startRefusedOn } from './support/served-folder.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 278 #2: the refusal of an EventStoreDB that holds none of a served folder's events asked the head of $all,
 * which counts other applications' records: a folder started on a cluster shared with them, holding no Credence record
 * (the setting pointed at the wrong cluster), was served, its projections looping on positions the server refuses and
 * its commands accepted. Whether Credence has a log there is its own head (docs/eventstoredb.md). Review 278 #3: for a
 * folder served on its embedded store the refusal said to point the setting at the server holding its events; that
 * log is the folder's events.db, which Credence does not move to EventStoreDB.
 */
const scratch = temporaryFolders('credence-served-folder-foreign-esdb-');

let held: StandIn;
let shared: StandIn;
beforeEach(async () => {
  held = await startStandIn();
  shared = await startStandIn();
});
afterEach(async () => {
  await held.stop();
  await shared.stop();
});

/** Another application's records on the cluster: `count` orders in streams of its own. */
const othersRecords = (standIn: StandIn, count: number): void => {
  for (let i = 0; i < count; i++) {
    const appended = standIn.log.append(`orders-${i}`, { kind: 'any' }, [
      { id: randomUUID(), type: 'OrderPlaced', contentType: 'application/json', data: Buffer.from(`{"order":${i}}`), customMetadata: new Uint8Array() },
    ]);
    if (appended.kind !== 'success') throw new Error('the foreign record was not appended');
  }
};

describe("a data folder started on an EventStoreDB that holds only other applications' records", () => {
  it('served on EventStoreDB: is refused as on an empty one, nothing written to the folder or the store', async () => {
    const data = scratch();
    await servedFolderWith(data, ['meter-1'], held.connectionString);
    othersRecords(shared, 50);
    const before = folderSnapshot(data);
    const appended = shared.log.all.length;

    const refused = await startRefusedOn(data, shared.connectionString);

    expect(refused).toMatch(/^store event_store_empty:/);
    expect(refused).toMatch(/transparency\.db has logged \d+ events/);
    expect(refused).toMatch(/Point it at the server that holds those events/);
    expect(refused).not.toContain(shared.connectionString);
    expect(folderSnapshot(data)).toEqual(before);
    expect(shared.log.all.length).toBe(appended);
  }, 120_000);

  it('served on its embedded store: says events.db holds its log, to unset the store setting, and to use a new folder for a fleet there', async () => {
    const data = scratch();
    await servedFolderWith(data, ['meter-2']);
    othersRecords(shared, 50);
    const before = folderSnapshot(data);

    const refused = await startRefusedOn(data, shared.connectionString);

    expect(refused).toMatch(/^store event_store_empty:/);
    expect(refused).toContain(`${join(data, 'events.db')} holds this folder's log`);
    expect(refused).toMatch(/unset .*CREDENCE_STORE/);
    expect(refused).toMatch(/does not move an embedded log to EventStoreDB/);
    expect(refused).toMatch(/new data folder/);
    expect(refused).not.toMatch(/Point it at the server/);
    expect(folderSnapshot(data)).toEqual(before);
  }, 120_000);

  it('served on its embedded store from before first-event.json: its events.db holding events says the same, on an empty store too', async () => {
    const data = scratch();
    await servedFolderWith(data, ['meter-3']);
    rmSync(join(data, 'first-event.json'));

    const refused = await startRefusedOn(data, shared.connectionString);

    expect(refused).toMatch(/^store event_store_empty:/);
    expect(refused).toContain(`${join(data, 'events.db')} holds this folder's log`);
    expect(refused).not.toMatch(/Point it at the server/);
  }, 120_000);

  it('starts on a shared cluster holding its own records among the others', async () => {
    const data = scratch();
    othersRecords(held, 5);
    await servedFolderWith(data, ['meter-4'], held.connectionString);
    othersRecords(held, 5);
    await (await startTestService({ dir: data, config: { store: held.connectionString } })).close();
  }, 120_000);
});
