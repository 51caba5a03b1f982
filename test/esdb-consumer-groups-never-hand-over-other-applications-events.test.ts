/**
 * Review 55: an integrator consumer group on a cluster shared with other applications handed their events (a stream
 * `orders-…`) to the handler as "foreign" events with their full data. Integrators see lifecycle events only: an
 * event of a stream that is no entity's is acked without reaching the handler, neither retried nor parked.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ExpectedRevision, type AllFilter, type EventToAppend, type RecordedEvent } from '../domain/ports/event-store.ts';
import { lifecycleEvent, standInStorePerTest, until } from './support/esdb-consumers.ts';

const event = (type: string, data: EventToAppend['data'] = {}): EventToAppend => ({ id: randomUUID(), type, data, metadata: {} });

const rig = standInStorePerTest();

describe('an integrator consumer group on a cluster shared with another application', () => {
  const cases: [string, AllFilter | undefined][] = [
    ['without a filter', undefined],
    ['filtered on a prefix the other application shares', { streamPrefixes: ['orders-', 'node-'] }],
  ];
  it.each(cases)('%s: is never handed that application’s events', async (_, filter) => {
    // Given another application's order, with data of its own, between two lifecycle events
    const node = `node-${randomUUID()}`;
    const enrolled = lifecycleEvent(node);
    await rig.store.appendToStream(node, [enrolled], { expectedRevision: ExpectedRevision.noStream });
    await rig.store.appendToStream(`orders-${randomUUID()}`, [event('OrderPlaced', { customer: 'Ada', total: 42 })], {
      expectedRevision: ExpectedRevision.noStream,
    });
    const suspended = lifecycleEvent(node);
    await rig.store.appendToStream(node, [suspended], { expectedRevision: ExpectedRevision.exact(0n) });

    // When an integrator consumer group reads $all
    const seen: RecordedEvent[] = [];
    rig.consumers.push(await rig.store.persistentSubscriptionToAll(`integrator-${randomUUID()}`, (e) => void seen.push(e), filter === undefined ? {} : { filter }));
    await until(() => seen.some((e) => e.id === suspended.id), 'the lifecycle event after the order');

    // Then it saw the lifecycle events only, and the order was acked: neither retried nor parked
    expect(seen.map((e) => e.id)).toEqual([enrolled.id, suspended.id]);
    const [group] = [...rig.standIn.groups.values()];
    expect([group!.retries, group!.parked]).toEqual([[], []]);
  });
});
