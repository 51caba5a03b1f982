import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { map, take } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventToAppend } from '../domain/ports/event-store.ts';
import { lifecycleEvents$ } from '../projections/streams/index.ts';
import {
  appendInBatches,
  collector,
  credentialEvents,
  gate,
  nodeEvents,
  openTarget,
  seedBacklog,
  type Target,
  type TargetName,
} from './integrator-streams.fixtures.ts';

// Issue 6 item 3: an integrator stream over either store catches up from far behind, keeps live order, and a slow
// subscriber neither blocks appends nor makes anything buffer the events appended while it is busy.

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapAfterGc = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const MB = 1024 * 1024;
const slowly = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The back-pressure suite, run by one test file per store so that the two run side by side. Its tests move 100,000
 * events: allowed three minutes on a loaded machine, since the collector's guard (30 s without an event) is what
 * catches a stream that stops.
 */
export const backpressureSuite = (name: TargetName): void => void describe(`integrator stream on the ${name} store`, { timeout: 180_000 }, () => {
  let target: Target;
  beforeEach(async () => {
    target = await openTarget(name);
  });
  afterEach(async () => {
    await target.close();
  });

  it('delivers a subscriber 100,000 events behind all of them in order, then the live ones in append order', async () => {
    // 100 meters with 1,000 events each, and events of another kind in between that the filter leaves out.
    const backlog: EventToAppend[] = [];
    for (let meter = 0; meter < 100; meter++) {
      const events = nodeEvents(`meter-${meter}`, 1_000);
      await seedBacklog(target, `node-meter-${meter}`, events);
      if (meter % 10 === 0) await seedBacklog(target, `credential-noise-${meter}`, credentialEvents(`noise-${meter}`, 10));
      backlog.push(...events);
    }

    const stream = collector(lifecycleEvents$(target.store, { kinds: ['node'] }).pipe(map((e) => [e.record.id, e.record.position] as const)));
    // Appended while the subscriber is still catching up: they come after the backlog, not lost in the switch.
    const duringCatchUp = nodeEvents('meter-during', 5);
    await appendInBatches(target.store, 'node-meter-during', duringCatchUp);
    await stream.until(100_005);
    const live = nodeEvents('meter-live', 5);
    for (const event of live) {
      await appendInBatches(target.store, 'credential-noise', credentialEvents('noise', 1));
      await appendInBatches(target.store, 'node-meter-live', [event]);
    }
    await stream.until(100_010);
    stream.subscription.unsubscribe();

    expect(stream.values.map(([id]) => id)).toEqual([...backlog, ...duringCatchUp, ...live].map((e) => e.id));
    const positions = stream.values.map(([, position]) => position);
    expect(positions.every((p, i) => i === 0 || p > positions[i - 1]!)).toBe(true);
  });

  it('lets 50,000 appends complete while a subscriber is stuck in onEvent, without buffering them, then delivers them all in order', async () => {
    const stuck = gate();
    let handled = 0;
    const stream = collector(
      lifecycleEvents$(target.store, { from: 'end', kinds: ['node'] }, {
        onEvent: async () => {
          await stuck.wait();
          handled += 1;
        },
      }),
    );
    const first = nodeEvents('meter-first', 1);
    // Made before the heap is measured: they are the test's, not the stream's.
    const batches = Array.from({ length: 100 }, (_, meter) => nodeEvents(`meter-${meter}`, meter === 0 ? 499 : 500));
    const appended = [...first, ...batches.flat()];
    // Serialising them once flattens their strings now; otherwise V8 reclaims that later and the baseline drifts.
    JSON.stringify(batches);
    // The subscriber takes the first event and stays in onEvent: everything after it piles up somewhere, or not.
    await appendInBatches(target.store, 'node-meter-first', first);
    await waitFor(() => target.opened.length === 1 && (target.standIn === undefined || target.standIn.subscriptionEventsSent >= 1));
    const heapBefore = heapAfterGc();

    // 100 meters, one append of 500 events each, through the store's own append path, each in its own turn of the
    // event loop (as requests arrive), which gives an eager stream every chance to read ahead.
    for (const [meter, events] of batches.entries()) {
      await appendInBatches(target.store, `node-meter-${meter}`, events);
      await slowly();
    }

    expect(handled).toBe(0);
    expect(stream.values).toHaveLength(0);
    // The stream holds the one event its subscriber is busy with, and has not taken another from the store.
    expect(target.pulled()).toBe(1);
    if (target.standIn === undefined) {
      // Nor did anything else in the process keep them: 50,000 decoded events would take tens of MB.
      expect(heapAfterGc() - heapBefore).toBeLessThan(12 * MB);
    } else {
      // The stand-in's log lives in this process, so its heap grows with the appends; count instead: what the
      // server sent and nobody pulled sits in the adapter's pump and the gRPC window, and must stay far below the
      // 50,000 events appended (the server is held back by flow control).
      expect(target.standIn.subscriptionEventsSent).toBeLessThan(5_000);
    }

    stuck.open();
    await stream.until(50_000);
    stream.subscription.unsubscribe();
    expect(handled).toBe(50_000);
    expect(stream.values.map((e) => e.record.id)).toEqual(appended.map((e) => e.id));
  });

  it('ends the store subscription when the subscriber unsubscribes, or takes what it wanted', async () => {
    await appendInBatches(target.store, 'node-meter-u', nodeEvents('meter-u', 3));
    const first = collector(lifecycleEvents$(target.store, { kinds: ['node'] }));
    await first.until(3);
    first.subscription.unsubscribe();
    const second = collector(lifecycleEvents$(target.store, { kinds: ['node'] }).pipe(take(2)));
    await second.until(2);

    // Over means: after a new append it reports its end instead of the event.
    await appendInBatches(target.store, 'node-meter-u', nodeEvents('meter-u', 2, 3));
    expect(target.opened).toHaveLength(2);
    for (const subscription of target.opened) {
      const next = await subscription[Symbol.asyncIterator]().next();
      expect(next.done).toBe(true);
    }
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 3_000 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  if (!condition()) throw new Error('condition not reached');
}
