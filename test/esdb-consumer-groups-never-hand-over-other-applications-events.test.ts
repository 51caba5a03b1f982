/**
 * Review 55: an integrator consumer group on a cluster shared with other applications handed their events (a stream
 * `orders-…`) to the handler as "foreign" events with their full data. Integrators see lifecycle events only: an
 * event of a stream that is no entity's is acked without reaching the handler, neither retried nor parked.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExpectedRevision, type AllFilter, type EventToAppend, type RecordedEvent } from '../domain/ports/event-store.ts';
import { openEventStoreDbStore, type EventStoreDbStore, type PersistentConsumer } from '../adapters/driven/store/eventstoredb/index.ts';
import { startStandIn, type StandIn } from './esdb-standin/index.ts';

const event = (type: string, data: EventToAppend['data'] = {}): EventToAppend => ({ id: randomUUID(), type, data, metadata: {} });

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
  store = openEventStoreDbStore(standIn.connectionString);
});
afterEach(async () => {
  await Promise.all(consumers.splice(0).map((c) => c.stop()));
  await store.close();
  await standIn.stop();
});

describe('an integrator consumer group on a cluster shared with another application', () => {
  const cases: [string, AllFilter | undefined][] = [
    ['without a filter', undefined],
    ['filtered on a prefix the other application shares', { streamPrefixes: ['orders-', 'node-'] }],
  ];
  it.each(cases)('%s: is never handed that application’s events', async (_, filter) => {
    // Given another application's order, with data of its own, between two lifecycle events
    const node = `node-${randomUUID()}`;
    const enrolled = event('NodeEnrolled');
    await store.appendToStream(node, [enrolled], { expectedRevision: ExpectedRevision.noStream });
    await store.appendToStream(`orders-${randomUUID()}`, [event('OrderPlaced', { customer: 'Ada', total: 42 })], {
      expectedRevision: ExpectedRevision.noStream,
    });
    const suspended = event('NodeSuspended');
    await store.appendToStream(node, [suspended], { expectedRevision: ExpectedRevision.exact(0n) });

    // When an integrator consumer group reads $all
    const seen: RecordedEvent[] = [];
    consumers.push(await store.persistentSubscriptionToAll(`integrator-${randomUUID()}`, (e) => void seen.push(e), filter === undefined ? {} : { filter }));
    await until(() => seen.some((e) => e.id === suspended.id), 'the lifecycle event after the order');

    // Then it saw the lifecycle events only, and the order was acked: neither retried nor parked
    expect(seen.map((e) => e.id)).toEqual([enrolled.id, suspended.id]);
    const [group] = [...standIn.groups.values()];
    expect([group!.retries, group!.parked]).toEqual([[], []]);
  });
});
