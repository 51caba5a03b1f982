import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { openTransparencyLogInDir, type SqliteTransparencyLog } from '../adapters/driven/transparency/index.ts';
import type { EventStore } from '../domain/ports/index.ts';
import { eventLeafHash } from '../domain/transparency/leaf.ts';
import { TransparencyProjection } from '../projections/transparency/index.ts';
import type { StandIn } from './esdb-standin/index.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';
import { ORIGIN, appendEvents, fixedSigner, readAllEvents } from './transparency-fixtures.ts';

/*
 * Review 427 (fix 1069): once rows another process appended under the newest were each held to the store (440ad4ae),
 * on an EventStoreDB cluster shared with another application two genuine cases were refused. With the leaf the service
 * vouched for another application's record, since scavenged, the walk read the store from that position, which the
 * server refuses ("Trying to read from an invalid position"): every checkpoint failed until a restart. And a record of
 * another application an export logged, scavenged before the service checked it, was taken for a forged row: the
 * service refused to sign. The walk now starts after Credence's own newest leaf, and passes over a logged record of
 * another application's the store no longer holds; a row of a Credence stream at such a position is still refused.
 */

const { startStandIn, hold } = standInTeardown();
const dirs: string[] = [];
const logs: SqliteTransparencyLog[] = [];
afterEach(() => {
  for (const l of logs.splice(0)) l.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const foreignRecord = (standIn: StandIn, streamId: string): void => {
  const appended = standIn.log.append(streamId, { kind: 'any' }, [
    { id: randomUUID(), type: 'OrderPlaced', contentType: 'application/json', data: Buffer.from('{"order":1}'), customMetadata: new Uint8Array() },
  ]);
  if (appended.kind !== 'success') throw new Error('the foreign record was not appended');
};

/** The service's log and an exporter's on a second connection to the same folder, over one stand-in. */
const cluster = async () => {
  const standIn = await startStandIn();
  const store: EventStore = hold(openEventStoreDbStore(standIn.connectionString));
  const dir = mkdtempSync(join(tmpdir(), 'credence-esdb-foreign-walk-'));
  dirs.push(dir);
  const open = () => {
    const log = openTransparencyLogInDir(dir);
    logs.push(log);
    return log;
  };
  const log = open();
  const projection = new TransparencyProjection({ store, log, signer: fixedSigner(), origin: ORIGIN, now: () => new Date(), checkpointEveryMs: 0, batchSize: 2 });
  const exporter = () => new TransparencyProjection({ store, log: open(), signer: fixedSigner(), origin: ORIGIN, now: () => new Date(), checkpointEveryMs: 0, batchSize: 2 });
  return { standIn, store, log, projection, exporter, open };
};

describe("leaves another process logged over another application's scavenged records", () => {
  it("signs them when the leaf the service vouched for is another application's record, since scavenged", async () => {
    const { standIn, store, log, projection, exporter } = await cluster();
    await appendEvents(store, 3);
    foreignRecord(standIn, 'orders-1');
    expect(await projection.catchUp()).toBe(4);
    expect((await projection.checkpoint()).treeSize).toBe(4);
    expect(log.leafAt(3)!.stream!.streamId).toBe('orders-1');
    standIn.log.scavenge('orders-1');
    // An export logs three more of Credence's records on its own connection, signing none.
    await appendEvents(store, 3, 3);
    expect(await exporter().catchUp()).toBe(3);
    expect(log.size()).toBe(7);

    expect((await projection.checkpoint()).treeSize).toBe(7);
    expect(projection.refusesToSign).toBeUndefined();
    await appendEvents(store, 1, 6);
    expect(await projection.catchUp()).toBe(1);
    expect((await projection.checkpoint()).treeSize).toBe(8);
  }, 60_000);

  it("signs them when a record of another application the export logged was scavenged before the service checked it", async () => {
    const { standIn, store, log, projection, exporter } = await cluster();
    await appendEvents(store, 3);
    expect(await projection.catchUp()).toBe(3);
    expect((await projection.checkpoint()).treeSize).toBe(3);
    foreignRecord(standIn, 'orders-9');
    await appendEvents(store, 2, 3);
    expect(await exporter().catchUp()).toBe(3);
    expect(log.leafAt(3)!.stream!.streamId).toBe('orders-9');
    standIn.log.scavenge('orders-9');

    expect((await projection.checkpoint()).treeSize).toBe(6);
    expect(projection.refusesToSign).toBeUndefined();
  }, 60_000);

  it("signs a single such record another process logged as the newest leaf, scavenged before the service checked it", async () => {
    const { standIn, store, log, projection, exporter } = await cluster();
    await appendEvents(store, 3);
    expect(await projection.catchUp()).toBe(3);
    expect((await projection.checkpoint()).treeSize).toBe(3);
    foreignRecord(standIn, 'orders-5');
    expect(await exporter().catchUp()).toBe(1);
    standIn.log.scavenge('orders-5');
    await appendEvents(store, 1, 3);

    expect((await projection.checkpoint()).treeSize).toBe(4);
    expect(projection.refusesToSign).toBeUndefined();
    expect(await projection.catchUp()).toBe(1);
    expect((await projection.checkpoint()).treeSize).toBe(5);
    expect(log.size()).toBe(5);
  }, 60_000);

  it("still refuses a row of a Credence stream at the position of another application's scavenged record", async () => {
    const { standIn, store, log, projection, open } = await cluster();
    await appendEvents(store, 3);
    expect(await projection.catchUp()).toBe(3);
    expect((await projection.checkpoint()).treeSize).toBe(3);
    foreignRecord(standIn, 'orders-7');
    await appendEvents(store, 1, 3);
    const all = await readAllEvents(store);
    const foreign = all.find((e) => e.streamId === 'orders-7')!;
    const e4 = all[all.length - 1]!;
    standIn.log.scavenge('orders-7');
    open().append([
      // At the scavenged record's position, said to be a record of one of Credence's streams.
      { position: foreign.position, eventId: randomUUID(), leafHash: eventLeafHash(foreign), stream: { streamId: 'node-forged-1', revision: 0n } },
      { position: e4.position, eventId: e4.id, leafHash: eventLeafHash(e4), stream: { streamId: e4.streamId, revision: e4.revision } },
    ]);

    await expect(projection.checkpoint()).rejects.toMatchObject({ code: 'transparency_log_altered', message: expect.stringMatching(/leaf 3\b/) });
    expect(log.latestCheckpoint()!.treeSize).toBe(3);
    expect(projection.refusesToSign).toMatchObject({ code: 'transparency_log_altered' });
  }, 60_000);
});
