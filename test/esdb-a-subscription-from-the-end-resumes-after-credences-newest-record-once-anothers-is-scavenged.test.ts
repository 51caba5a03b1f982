import { randomUUID } from 'node:crypto';
import { firstValueFrom, take, timeout } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openEventStoreDbStore, type EventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { hmacSha256 } from '../domain/crypto/index.ts';
import { ExpectedRevision, type AllFilter } from '../domain/ports/event-store.ts';
import { PseudonymDeriver, type PseudonymKey } from '../projections/pseudonyms/index.ts';
import { publicEvents$ } from '../projections/streams/public-events.ts';
import type { StandIn } from './esdb-standin/index.ts';
import { T0, cmd } from './support/fleet.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';
import { newEvent, nextWithin } from './store-conformance/helpers.ts';

/*
 * Review 216 finding 1. A subscription from `end` started after the newest record of $all, which on a cluster shared
 * with another application may be that application's, and kept it as its own resume point. Once that record was
 * scavenged, a drop made the resubscription refused as final: the subscription threw "start from a position this
 * store returned" though its caller gave none. Now it resumes after Credence's newest record instead (docs/eventstoredb.md,
 * review 179), passing over what it had seen. The library's public stream from `end` starts after Credence's newest
 * record too, as GET /v1/events does.
 */

const { startStandIn, hold } = standInTeardown();

const open = async (): Promise<{ standIn: StandIn; store: EventStoreDbStore }> => {
  const standIn = await startStandIn();
  const store = hold(openEventStoreDbStore(standIn.connectionString, { resubscribe: { initialDelayMs: 5, maxDelayMs: 20 } }));
  return { standIn, store };
};

/** Another application's record, the newest of $all. */
const foreignRecord = (standIn: StandIn, streamId: string): void => {
  const appended = standIn.log.append(streamId, { kind: 'any' }, [
    { id: randomUUID(), type: 'OrderPlaced', contentType: 'application/json', data: Buffer.from('{"order":1}'), customMetadata: new Uint8Array() },
  ]);
  if (appended.kind !== 'success') throw new Error('the foreign record was not appended');
};

// Long enough for the subscription to be open on the server, so the drop below cuts it (scavenged before it opened,
// its first start is refused alike).
const opened = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 200));

describe('a subscription from the end, after another application\'s record is scavenged', () => {
  it.each<[string, AllFilter | undefined, boolean]>([
    ['unfiltered', undefined, true],
    ['filtered by event type', { eventTypes: ['NodeRegistered'] }, true],
    ['with no record of Credence\'s yet: from the start of $all', undefined, false],
  ])('resumes after Credence\'s newest record and delivers what comes next, once (%s)', async (_, filter, ownFirst) => {
    const { standIn, store } = await open();
    if (ownFirst) await store.appendToStream('node-a', [newEvent('NodeRegistered')], { expectedRevision: ExpectedRevision.noStream });
    foreignRecord(standIn, 'orders-1');
    const subscription = store.subscribeToAll({ from: { kind: 'end' }, ...(filter === undefined ? {} : { filter }) });
    const iterator = subscription[Symbol.asyncIterator]();
    const next = nextWithin(iterator, 'node-b');
    await opened();
    expect(standIn.log.scavenge('orders-1')).toHaveLength(1);
    standIn.dropSubscriptions('unavailable');
    const appended = newEvent('NodeRegistered');
    await store.appendToStream('node-b', [appended], { expectedRevision: ExpectedRevision.noStream });

    const delivered = await next;
    expect(delivered.done).toBe(false);
    expect(delivered.value?.id, 'node-b, not node-a again').toBe(appended.id);
    await subscription.unsubscribe();
  }, 30_000);

  it('of the library\'s public stream, resumes after Credence\'s newest record and publishes what comes next', async () => {
    const { standIn, store } = await open();
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    await engine.execute(cmd.registerNode('meter-01'));
    foreignRecord(standIn, 'orders-1');
    const key: PseudonymKey = { prf: async (m) => hmacSha256(new Uint8Array(32).fill(0x44), m) };
    const first = firstValueFrom(publicEvents$(store, new PseudonymDeriver(key), { from: 'end' }).pipe(take(1), timeout(20_000)));
    first.catch(() => undefined);
    await opened();
    expect(standIn.log.scavenge('orders-1')).toHaveLength(1);
    standIn.dropSubscriptions('unavailable');
    await engine.execute(cmd.registerNode('meter-02'));

    expect((await first).type).toBe('NodeRegistered');
  }, 30_000);
});
