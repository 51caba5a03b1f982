import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExpectedRevision, type EventToAppend, type RecordedEvent } from '../domain/ports/event-store.ts';
import { openEventStoreDbStore, type EventStoreDbStore, type PersistentConsumer } from '../adapters/driven/store/eventstoredb/index.ts';
import { startStandIn, type StandIn } from './esdb-standin/index.ts';

const events = (count: number, type = 'Enrolled'): EventToAppend[] =>
  Array.from({ length: count }, (_, n) => ({ id: randomUUID(), type, data: { n }, metadata: {} }));

/** Resolves once `condition` holds; a bounded wait so a broken consumer fails with a message, not a hang. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited > 10_000) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

let standIn: StandIn;
let store: EventStoreDbStore;
const consumers: PersistentConsumer[] = [];

beforeEach(async () => {
  standIn = await startStandIn();
  store = openEventStoreDbStore(standIn.connectionString, { resubscribe: { initialDelayMs: 5, maxDelayMs: 20 } });
});
afterEach(async () => {
  await Promise.all(consumers.splice(0).map((c) => c.stop()));
  await store.close();
  await standIn.stop();
});

describe('persistent subscriptions to $all for integrator consumer groups', () => {
  it('creates the group when missing, filters on the server and acks what the handler took', async () => {
    const prefix = `node-${randomUUID()}-`;
    await store.appendToStream(`other-${randomUUID()}`, events(3), { expectedRevision: ExpectedRevision.any });
    const wanted = events(4);
    await store.appendToStream(`${prefix}1`, wanted, { expectedRevision: ExpectedRevision.noStream });
    const seen: RecordedEvent[] = [];
    consumers.push(await store.persistentSubscriptionToAll('integrator-a', (e) => void seen.push(e), { filter: { streamPrefixes: [prefix] } }));
    await until(() => seen.length === 4, 'four events');
    expect(seen.map((e) => e.id)).toEqual(wanted.map((e) => e.id));
    expect(standIn.groups.get('integrator-a')).toBeDefined();
    const group = standIn.groups.get('integrator-a')!;
    expect(group.retries).toEqual([]);
    expect(group.parked).toEqual([]);
    // A second consumer joins the existing group instead of failing on "already exists".
    consumers.push(await store.persistentSubscriptionToAll('integrator-a', () => undefined, { filter: { streamPrefixes: [prefix] } }));
    expect(standIn.calls.filter((c) => c === 'PersistentCreate')).toHaveLength(2);
  });

  it('nacks a failed event for retry and hands it back with its retry count', async () => {
    const stream = `credential-${randomUUID()}`;
    const [flaky, next] = events(2);
    await store.appendToStream(stream, [flaky!, next!], { expectedRevision: ExpectedRevision.noStream });
    const deliveries: [string, number][] = [];
    consumers.push(
      await store.persistentSubscriptionToAll(
        'integrator-retry',
        (event, { retryCount }) => {
          deliveries.push([event.id, retryCount]);
          if (event.id === flaky!.id && retryCount < 2) throw new Error('downstream unavailable');
        },
        { filter: { streamPrefixes: [stream] }, maxRetryCount: 5, bufferSize: 1 },
      ),
    );
    await until(() => deliveries.length === 4, 'three attempts and the next event');
    expect(deliveries).toEqual([
      [flaky!.id, 0],
      [flaky!.id, 1],
      [flaky!.id, 2],
      [next!.id, 0],
    ]);
    expect(standIn.groups.get('integrator-retry')!.parked).toEqual([]);
  });

  it('parks an event that keeps failing after the retry limit and moves on', async () => {
    const stream = `association-${randomUUID()}`;
    const [poison, healthy] = events(2);
    await store.appendToStream(stream, [poison!, healthy!], { expectedRevision: ExpectedRevision.noStream });
    const handled: string[] = [];
    consumers.push(
      await store.persistentSubscriptionToAll(
        'integrator-park',
        (event) => {
          if (event.id === poison!.id) throw new Error('cannot handle');
          handled.push(event.id);
        },
        { filter: { streamPrefixes: [stream] }, maxRetryCount: 2 },
      ),
    );
    await until(() => handled.length === 1 && standIn.groups.get('integrator-park')!.parked.length === 1, 'the park');
    expect(handled).toEqual([healthy!.id]);
    const parked = standIn.groups.get('integrator-park')!.parked[0]!;
    expect([parked.event.id, parked.retryCount]).toEqual([poison!.id, 2]);
  });

  it('reconnects after the server drops the consumer and gets the in-flight event again', async () => {
    const stream = `node-${randomUUID()}`;
    await store.appendToStream(stream, events(2), { expectedRevision: ExpectedRevision.noStream });
    const seen: string[] = [];
    let release: (() => void) | undefined;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    consumers.push(
      await store.persistentSubscriptionToAll(
        'integrator-drop',
        async (event) => {
          seen.push(event.id);
          if (seen.length === 1) await blocked;
        },
        { filter: { streamPrefixes: [stream] }, bufferSize: 1 },
      ),
    );
    await until(() => seen.length === 1, 'the first delivery');
    standIn.dropPersistentConsumers();
    release!();
    const later = events(1);
    await store.appendToStream(stream, later, { expectedRevision: ExpectedRevision.exact(1n) });
    await until(() => seen.includes(later[0]!.id), 'the event appended after the drop');
    const stored = (await store.readStream(stream)).map((e) => e.id);
    // At-least-once: everything arrives, the event in flight at the drop is delivered again.
    expect(new Set(seen)).toEqual(new Set(stored));
    expect(seen.filter((id) => id === stored[0])).toHaveLength(2);
    expect(standIn.calls.filter((c) => c === 'PersistentRead').length).toBeGreaterThanOrEqual(2);
  });

  it('stop() ends the consumer and settles done', async () => {
    const consumer = await store.persistentSubscriptionToAll('integrator-stop', () => undefined);
    await consumer.stop();
    await expect(consumer.done).resolves.toBeUndefined();
  });
});
