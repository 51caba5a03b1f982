import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { ExpectedRevision, type EventToAppend, type RecordedEvent } from '../domain/ports/event-store.ts';
import { openEventStoreDbStore, type DropNotice, type EventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import type { StandIn } from './esdb-standin/index.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';

// Subscription resume: the stand-in drops the gRPC call mid-way (as a server does with a slow consumer, or a node
// that goes away) and the adapter must carry on from the last event it delivered: no gap, no duplicate.

const events = (count: number, type = 'Tick'): EventToAppend[] =>
  Array.from({ length: count }, (_, n) => ({ id: randomUUID(), type, data: { n }, metadata: {} }));

async function take(iterator: AsyncIterator<RecordedEvent>, count: number): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  while (out.length < count) {
    const next = await iterator.next();
    if (next.done === true) throw new Error(`ended after ${out.length} of ${count}`);
    out.push(next.value);
  }
  return out;
}

const { startStandIn, hold } = standInTeardown();
let standIn: StandIn;
let store: EventStoreDbStore;
let drops: DropNotice[];

async function open(): Promise<void> {
  standIn = await startStandIn({ logStart: 2n ** 60n });
  drops = [];
  store = hold(
    openEventStoreDbStore(standIn.connectionString, {
      resubscribe: { initialDelayMs: 5, maxDelayMs: 20 },
      onSubscriptionDropped: (notice) => drops.push(notice),
    }),
  );
}

describe('catch-up subscription resume after the server drops it', () => {
  it.each(['unavailable', 'end'] as const)(
    'resumes after a drop during catch-up (%s) with every event exactly once, in order',
    async (mode) => {
      await open();
      const stream = `node-${randomUUID()}`;
      const stored = events(30);
      await store.appendToStream(stream, stored, { expectedRevision: ExpectedRevision.noStream });
      standIn.dropSubscriptionAfter(12, mode);
      const subscription = store.subscribeToAll({ from: { kind: 'start' }, filter: { streamPrefixes: [stream] } });
      const delivered = await take(subscription[Symbol.asyncIterator](), 30);
      await subscription.unsubscribe();
      expect(standIn.droppedSubscriptions).toBe(1);
      expect(delivered.map((e) => e.id)).toEqual(stored.map((e) => e.id));
      expect(drops).toHaveLength(1);
      expect(drops[0]!.resumeAfter).toBe(delivered[11]!.position);
      expect(drops[0]!.resumeAfter! > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
    },
  );

  it('resumes after drops while live, and across several drops in a row', async () => {
    await open();
    const stream = `credential-${randomUUID()}`;
    const before = events(5);
    await store.appendToStream(stream, before, { expectedRevision: ExpectedRevision.noStream });
    const subscription = store.subscribeToAll({ from: { kind: 'start' }, filter: { streamPrefixes: [stream] } });
    const iterator = subscription[Symbol.asyncIterator]();
    const delivered = await take(iterator, 5);

    standIn.dropSubscriptions('unavailable');
    const duringDrop = events(4);
    await store.appendToStream(stream, duringDrop, { expectedRevision: ExpectedRevision.exact(4n) });
    delivered.push(...(await take(iterator, 2)));
    standIn.dropSubscriptions('end');
    standIn.dropSubscriptions('unavailable');
    const after = events(3);
    await store.appendToStream(stream, after, { expectedRevision: ExpectedRevision.exact(8n) });
    delivered.push(...(await take(iterator, 5)));
    await subscription.unsubscribe();

    expect(standIn.droppedSubscriptions).toBeGreaterThanOrEqual(2);
    expect(delivered.map((e) => e.id)).toEqual([...before, ...duringDrop, ...after].map((e) => e.id));
    const positions = delivered.map((e) => e.position);
    positions.slice(1).forEach((p, i) => expect(p > positions[i]!).toBe(true));
  });

  it('resumes a subscription that started from the end without replaying history', async () => {
    await open();
    const stream = `node-${randomUUID()}`;
    await store.appendToStream(stream, events(3, 'Old'), { expectedRevision: ExpectedRevision.noStream });
    const subscription = store.subscribeToAll({ from: { kind: 'end' }, filter: { streamPrefixes: [stream] } });
    const iterator = subscription[Symbol.asyncIterator]();
    const fresh = events(6, 'New');
    await store.appendToStream(stream, fresh.slice(0, 2), { expectedRevision: ExpectedRevision.exact(2n) });
    const delivered = await take(iterator, 1);
    standIn.dropSubscriptions('unavailable');
    await store.appendToStream(stream, fresh.slice(2), { expectedRevision: ExpectedRevision.exact(4n) });
    delivered.push(...(await take(iterator, 5)));
    await subscription.unsubscribe();
    expect(standIn.droppedSubscriptions).toBe(1);
    expect(delivered.map((e) => e.id)).toEqual(fresh.map((e) => e.id));
  });

  it('completes a filtered readAll that the server drops half-way', async () => {
    await open();
    const stream = `node-${randomUUID()}`;
    const stored = events(20);
    await store.appendToStream(stream, stored, { expectedRevision: ExpectedRevision.noStream });
    standIn.dropSubscriptionAfter(7, 'unavailable');
    const read: RecordedEvent[] = [];
    for await (const event of store.readAll({ filter: { streamPrefixes: [stream] } })) read.push(event);
    expect(standIn.droppedSubscriptions).toBe(1);
    expect(read.map((e) => e.id)).toEqual(stored.map((e) => e.id));
  });

  it('ends with the error instead of resubscribing when the failure is not transient', async () => {
    await open();
    const stream = `node-${randomUUID()}`;
    await store.appendToStream(stream, events(1), { expectedRevision: ExpectedRevision.noStream });
    standIn.log.append(stream, { kind: 'any' }, [
      { id: randomUUID(), type: 'Blob', contentType: 'application/octet-stream', data: new Uint8Array([0]), customMetadata: new Uint8Array() },
    ]);
    const subscription = store.subscribeToAll({ from: { kind: 'start' }, filter: { streamPrefixes: [stream] } });
    const iterator = subscription[Symbol.asyncIterator]();
    await take(iterator, 1);
    const error = await iterator.next().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isCredenceError(error, 'protocol')).toBe(true);
    expect((await iterator.next()).done).toBe(true);
    expect(drops).toEqual([]);
  });
});
