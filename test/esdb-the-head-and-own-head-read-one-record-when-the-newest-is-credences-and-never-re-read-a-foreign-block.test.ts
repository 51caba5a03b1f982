import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { ExpectedRevision } from '../domain/ports/event-store.ts';
import type { StandIn } from './esdb-standin/index.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';

/*
 * Review 386 item 1: `headPosition()` read the newest 64 records of $all whole at every call (every live tick, every
 * public /readyz), though the first answered; `ownHeadPosition()` read a 256-record page before looking for where its
 * last scan began. With another application's large records at the end of $all, each call pulled megabytes. Both now
 * read one record first and read on, in growing pages, only while what they read must be passed over.
 */

const RECORD_BYTES = 64 * 1024;

const foreign = (standIn: StandIn, streamId: string, count: number, bytes = RECORD_BYTES): bigint => {
  let last = 0n;
  for (let i = 0; i < count; i++) {
    const data = Buffer.from(JSON.stringify({ blob: 'x'.repeat(bytes) }));
    const appended = standIn.log.append(streamId, { kind: 'any' }, [
      { id: randomUUID(), type: 'OrderPlaced', contentType: 'application/json', data, customMetadata: new Uint8Array() },
    ]);
    if (appended.kind === 'success' && appended.position !== undefined) last = appended.position;
  }
  return last;
};

const system = (standIn: StandIn, count: number): void => {
  for (let i = 0; i < count; i++) {
    standIn.log.append('$stats-127.0.0.1:2113', { kind: 'any' }, [
      { id: randomUUID(), type: '$statsCollected', contentType: 'application/json', data: Buffer.from('{}'), customMetadata: new Uint8Array() },
    ]);
  }
};

describe("the head of a shared EventStoreDB's $all and Credence's newest record in it", () => {
  const teardown = standInTeardown();
  const open = async () => {
    const standIn = await teardown.startStandIn();
    const store = teardown.hold(openEventStoreDbStore(standIn.connectionString));
    /** Records the stand-in sent to reads while `call` ran, and their bytes. */
    const cost = async <T>(call: () => Promise<T>): Promise<{ value: T; records: number; bytes: number }> => {
      const [records, bytes] = [standIn.recordsRead, standIn.bytesRead];
      const value = await call();
      return { value, records: standIn.recordsRead - records, bytes: standIn.bytesRead - bytes };
    };
    return { standIn, store, cost };
  };
  const event = () => ({ id: randomUUID(), type: 'Registered', data: {}, metadata: {} });

  it("reads one record for either when the newest record of $all is Credence's", async () => {
    const { standIn, store, cost } = await open();
    foreign(standIn, 'orders-1', 70);
    const own = (await store.appendToStream('node-a', [event()], { expectedRevision: ExpectedRevision.noStream })).position;
    expect(await cost(() => store.headPosition())).toMatchObject({ value: own, records: 1 });
    expect(await cost(() => store.ownHeadPosition())).toMatchObject({ value: own, records: 1 });
    expect(await cost(() => store.ownHeadPosition())).toMatchObject({ value: own, records: 1 });
  });

  it("reads one large foreign record for the head, not the newest 64 of them", async () => {
    const { standIn, store, cost } = await open();
    await store.appendToStream('node-a', [event()], { expectedRevision: ExpectedRevision.noStream });
    const newest = foreign(standIn, 'orders-1', 70);
    const head = await cost(() => store.headPosition());
    expect(head).toMatchObject({ value: newest, records: 1 });
    expect(head.bytes).toBeLessThan(2 * RECORD_BYTES);
  });

  it('reads on past system records at the end of $all only as far as the first record that is not one', async () => {
    const { standIn, store, cost } = await open();
    const newest = foreign(standIn, 'orders-1', 70);
    system(standIn, 3);
    const head = await cost(() => store.headPosition());
    expect(head.value).toBe(newest);
    // One record, then a page of 16 past the system ones: not the 64 newest records of $all.
    expect(head.records).toBeLessThanOrEqual(17);
  });

  it("reads another application's block at the end once, then one record while nothing is new, and only what came since", async () => {
    const { standIn, store, cost } = await open();
    const own = (await store.appendToStream('node-a', [event()], { expectedRevision: ExpectedRevision.noStream })).position;
    foreign(standIn, 'orders-1', 70);

    const first = await cost(() => store.ownHeadPosition());
    expect(first.value).toBe(own);
    // The 70 foreign records and Credence's, read once: the growing pages (1, 16, 64) reach it at 81 records at most.
    expect(first.records).toBeLessThanOrEqual(81);

    // Nothing new: the newest record is the one the last scan ended on, and is the only one read.
    const again = await cost(() => store.ownHeadPosition());
    expect(again).toMatchObject({ value: own, records: 1 });
    expect(again.bytes).toBeLessThan(2 * RECORD_BYTES);

    // Two more foreign records: they and the one the last scan began at, not the block before it.
    foreign(standIn, 'orders-2', 2);
    const since = await cost(() => store.ownHeadPosition());
    expect(since.value).toBe(own);
    expect(since.records).toBeLessThanOrEqual(17);
    expect((await cost(() => store.ownHeadPosition())).records).toBe(1);
  });
});
