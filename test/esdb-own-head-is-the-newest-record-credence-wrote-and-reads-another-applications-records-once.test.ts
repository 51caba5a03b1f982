import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { ExpectedRevision } from '../domain/ports/event-store.ts';
import type { StandIn } from './esdb-standin/index.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';

/*
 * Review 160 item 1: what a stream opened `from=end` hands out as where it starts must be a record Credence wrote,
 * not the head of a $all shared with another application, whose records leave it once scavenged. `ownHeadPosition`
 * scans $all backwards past other applications' records; it reads them once, not at every call, and a scan whose
 * starting record left $all looks on.
 */

const foreign = (standIn: StandIn, streamId: string, count: number): bigint => {
  let last = 0n;
  for (let i = 0; i < count; i++) {
    const appended = standIn.log.append(streamId, { kind: 'any' }, [
      { id: randomUUID(), type: 'OrderPlaced', contentType: 'application/json', data: Buffer.from('{}'), customMetadata: new Uint8Array() },
    ]);
    if (appended.kind === 'success' && appended.position !== undefined) last = appended.position;
  }
  return last;
};

describe('the newest record Credence wrote to a shared EventStoreDB', () => {
  const teardown = standInTeardown();
  const open = async () => {
    const standIn = await teardown.startStandIn();
    const store = teardown.hold(openEventStoreDbStore(standIn.connectionString));
    const reads = () => standIn.calls.filter((c) => c === 'Read').length;
    return { standIn, store, reads };
  };
  const event = () => ({ id: randomUUID(), type: 'Registered', data: {}, metadata: {} });

  it('is none on a log of other applications\' and system records only', async () => {
    const { standIn, store } = await open();
    foreign(standIn, 'orders-1', 3);
    expect(await store.ownHeadPosition()).toBeUndefined();
    expect(await store.headPosition()).toBeDefined();
  });

  it('passes over the other application\'s records after it, reading them once, and looks on when the record a scan began at left $all', async () => {
    const { standIn, store, reads } = await open();
    const own = (await store.appendToStream('node-a', [event()], { expectedRevision: ExpectedRevision.noStream })).position;
    const newest = foreign(standIn, 'orders-1', 600);
    expect(await store.headPosition()).toBe(newest);

    // Pages of 1, 16, 64, 256 then 256 (review 386: the first record alone answers most calls): the 600 read once.
    let before = reads();
    expect(await store.ownHeadPosition()).toBe(own);
    expect(reads() - before).toBe(6);

    // The record at the end, then a page of 16 holding the 10 new ones and the record the last scan began at.
    foreign(standIn, 'orders-2', 10);
    before = reads();
    expect(await store.ownHeadPosition()).toBe(own);
    expect(reads() - before).toBe(2);

    // The record the last scan began at is scavenged: this scan cannot tell what came since from it, and looks on.
    standIn.log.scavenge('orders-2');
    expect(await store.ownHeadPosition()).toBe(own);

    const later = await store.appendToStream('credential-b', [event()], { expectedRevision: ExpectedRevision.noStream, commandId: randomUUID() });
    foreign(standIn, 'orders-3', 2);
    expect(await store.ownHeadPosition()).toBe(later.position);
  });
});
