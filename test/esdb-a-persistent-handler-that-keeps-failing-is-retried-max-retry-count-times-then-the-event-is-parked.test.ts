import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ExpectedRevision } from '../domain/ports/event-store.ts';
import { lifecycleEvent, standInStorePerTest, until } from './support/esdb-consumers.ts';

/*
 * Review 216 finding 3: the docs and the option's comment said an event is parked after `maxRetryCount` deliveries;
 * the handler runs once, then is retried `maxRetryCount` times (retry counts 0 to maxRetryCount), and the event is
 * parked after that last failure.
 */
const rig = standInStorePerTest({ resubscribe: { initialDelayMs: 5, maxDelayMs: 20 } });

describe('a persistent subscription whose handler keeps failing on an event', () => {
  it.each([0, 1, 3])('hands it over once and retries it maxRetryCount (%i) times, then parks it', async (maxRetryCount) => {
    const stream = `node-${randomUUID()}`;
    const [poison, healthy] = [lifecycleEvent(stream), lifecycleEvent(stream)];
    await rig.store.appendToStream(stream, [poison, healthy], { expectedRevision: ExpectedRevision.noStream });
    const group = `integrator-retries-${maxRetryCount}`;
    const retryCounts: number[] = [];
    const handled: string[] = [];
    rig.consumers.push(
      await rig.store.persistentSubscriptionToAll(
        group,
        (event, { retryCount }) => {
          if (event.id !== poison.id) return void handled.push(event.id);
          retryCounts.push(retryCount);
          throw new Error('cannot handle');
        },
        { filter: { streamPrefixes: [stream] }, maxRetryCount, bufferSize: 1 },
      ),
    );
    await until(() => handled.length === 1 && rig.standIn.groups.get(group)!.parked.length === 1, 'the park and the next event');
    expect(retryCounts, 'deliveries of the failing event').toEqual(Array.from({ length: maxRetryCount + 1 }, (_, n) => n));
    expect(rig.standIn.groups.get(group)!.parked.map((p) => p.event.id)).toEqual([poison.id]);
  });
});
