import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventToAppend } from '../domain/ports/event-store.ts';
import { lifecycleEvents$ } from '../projections/streams/index.ts';
import { appendInBatches, collector, gate, nodeEvents, openTarget, type Target } from './integrator-streams.fixtures.ts';

// Issue 6 tests: "subscription resume after the stand-in drops the stream mid-way (no gap, no duplicate delivered to
// the Observable)". The stand-in drops the gRPC call the way a server drops a slow consumer or a node goes away.

let target: Target;
beforeEach(async () => {
  target = await openTarget('eventstoredb stand-in');
});
afterEach(async () => {
  await target.close();
});

const standIn = () => target.standIn!;
const idsOf = (events: readonly { id: string }[]) => events.map((e) => e.id);

describe('an integrator stream on EventStoreDB when the server drops the subscription', () => {
  it('delivers every event exactly once, in order, across drops during catch-up and while live', async () => {
    const backlog: EventToAppend[] = [];
    for (let meter = 0; meter < 3; meter++) {
      const events = nodeEvents(`meter-${meter}`, 1_000);
      await appendInBatches(target.store, `node-meter-${meter}`, events);
      backlog.push(...events);
    }
    standIn().dropSubscriptionAfter(1_200, 'unavailable');
    const stream = collector(lifecycleEvents$(target.store, { kinds: ['node'] }));
    await stream.until(3_000);

    standIn().dropSubscriptions('end');
    const duringDrop = nodeEvents('meter-live', 4);
    await appendInBatches(target.store, 'node-meter-live', duringDrop);
    await stream.until(3_004);
    standIn().dropSubscriptionAfter(2, 'unavailable');
    const afterDrop = nodeEvents('meter-live', 6, 4);
    for (const event of afterDrop) await appendInBatches(target.store, 'node-meter-live', [event]);
    await stream.until(3_010);
    stream.subscription.unsubscribe();

    expect(standIn().droppedSubscriptions).toBe(3);
    expect(target.drops).toHaveLength(3);
    const delivered = stream.values.map((e) => e.record.id);
    expect(new Set(delivered).size).toBe(delivered.length);
    expect(delivered).toEqual(idsOf([...backlog, ...duringDrop, ...afterDrop]));
  });

  it('delivers every event exactly once when the server drops a subscriber that is busy with an event', async () => {
    const busy = gate();
    const stream = collector(lifecycleEvents$(target.store, { kinds: ['node'] }, { onEvent: () => busy.wait() }));
    const events = nodeEvents('meter-slow', 2_000);
    await appendInBatches(target.store, 'node-meter-slow', events.slice(0, 1_000));
    // The subscriber is stuck on the first event while the server has sent what flow control let through.
    await waitFor(() => standIn().subscriptionEventsSent > 1);
    standIn().dropSubscriptions('unavailable');
    await appendInBatches(target.store, 'node-meter-slow', events.slice(1_000));
    busy.open();
    await stream.until(2_000);
    stream.subscription.unsubscribe();

    expect(standIn().droppedSubscriptions).toBe(1);
    // It resumed after an event that was delivered: what sat unread in buffers was fetched again, not skipped.
    expect(target.drops).toHaveLength(1);
    expect(stream.values.map((e) => e.record.position)).toContain(target.drops[0]!.resumeAfter);
    expect(stream.values.map((e) => e.record.id)).toEqual(idsOf(events));
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 2_000 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  if (!condition()) throw new Error('condition not reached');
}
