import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteEventStore } from '../adapters/driven/store/index.ts';
import type { EventStore, RecordedEvent } from '../domain/ports/event-store.ts';
import { hmacSha256 } from '../domain/crypto/index.ts';
import { identitiesUpTo, PseudonymDeriver, type PseudonymKey, type PublicIdentities } from '../projections/pseudonyms/index.ts';
import { KEPT_FOLDS } from '../projections/pseudonyms/kept-folds.ts';
import { appendRegisteredNodes } from './http-sse.fixtures.ts';

/*
 * Review 160 item 2: docs/service.md said a reconnect near the head folds only what came since, but the one kept fold
 * was reused only by a stream resuming at or after the position it was kept at, and every `from=end` open moved it to
 * the head. A follower reconnecting with its last id, just below the head, read the whole identity history again
 * (20,000 nodes: 40,000 records, about 1.5 s), and 16 of them reconnecting at once each read it all. Now a few folds
 * are kept, each at an identity event's own position, a fold reads on from the greatest at or below its resume point,
 * and streams opened together wait for the fold under way instead of each reading alongside it: counted here in
 * records read.
 */

const FLEET = 2_000;
const key: PseudonymKey = { prf: async (m) => hmacSha256(new Uint8Array(32).fill(0x5a), m) };

/** The store under an identity of its own (no fold kept over another), counting the records its reads give. */
const counting = (store: EventStore) => {
  let read = 0;
  async function* count(records: AsyncIterable<RecordedEvent>): AsyncIterable<RecordedEvent> {
    for await (const record of records) {
      read += 1;
      yield record;
    }
  }
  const view = {
    appendToStream: (...a) => store.appendToStream(...a),
    readStream: (...a) => store.readStream(...a),
    readAll: (...a) => count(store.readAll(...a)),
    subscribeToAll: (...a) => store.subscribeToAll(...a),
    headPosition: () => store.headPosition(),
  } as EventStore;
  return { view, read: () => read, reset: () => void (read = 0) };
};

const deriver = new PseudonymDeriver(key);
const pseudonyms = (identities: PublicIdentities, ids: readonly string[]) => Promise.all(ids.map((id) => identities.pseudonymOf(deriver, 'node', id)));

describe('the identity fold of a stream reconnecting just below the head', () => {
  let store: SqliteEventStore;
  beforeAll(async () => {
    store = openSqliteStore({ memory: true, durability: 'normal' });
    await appendRegisteredNodes(store, 'fleet', FLEET);
  }, 60_000);
  afterAll(() => store.close());

  it('reads on from a fold kept at or below its last id after a from=end open moved past it, alone and sixteen at once', async () => {
    const c = counting(store);
    const followed = (await store.headPosition())!;
    await identitiesUpTo(c.view, followed);
    expect(c.read()).toBe(FLEET);

    // A node registered since: a from=end open folds it and keeps the fold at the new head.
    const [late] = (await appendRegisteredNodes(store, 'late', 1)).map(BigInt);
    c.reset();
    await identitiesUpTo(c.view, late!);
    expect(c.read()).toBe(1);

    // The follower reconnects with the last id it received, just below the head.
    c.reset();
    const resumed = (await identitiesUpTo(c.view, followed))!;
    expect(c.read()).toBeLessThanOrEqual(1);
    const whole = (await identitiesUpTo(counting(store).view, followed))!;
    const ids = ['fleet-0', 'fleet-1999', 'late-0'];
    expect(await pseudonyms(resumed, ids)).toEqual(await pseudonyms(whole, ids));
    expect(resumed.size()).toEqual(whole.size());

    c.reset();
    await Promise.all(Array.from({ length: 16 }, () => identitiesUpTo(c.view, followed)));
    expect(c.read()).toBeLessThanOrEqual(16);
  });

  it('reads the history once for sixteen streams opened together before any fold is kept (just after a start), each as a whole fold', async () => {
    const c = counting(store);
    const head = (await store.headPosition())!;
    const folded = await Promise.all(Array.from({ length: 16 }, () => identitiesUpTo(c.view, head)));
    expect(c.read()).toBeLessThan(2 * FLEET);
    const whole = (await identitiesUpTo(counting(store).view, head))!;
    const ids = ['fleet-0', 'fleet-1999', 'late-0'];
    for (const identities of folded) expect(await pseudonyms(identities!, ids)).toEqual(await pseudonyms(whole, ids));
  });

  it(`keeps ${KEPT_FOLDS} folds at most, letting the lowest go`, async () => {
    const c = counting(store);
    const first = (await store.headPosition())!;
    await identitiesUpTo(c.view, first);
    for (let i = 0; i < KEPT_FOLDS; i++) {
      const [at] = (await appendRegisteredNodes(store, `more-${i}`, 1)).map(BigInt);
      await identitiesUpTo(c.view, at!);
    }
    c.reset();
    const again = (await identitiesUpTo(c.view, first))!;
    expect(c.read()).toBeGreaterThan(FLEET);
    const ids = ['fleet-0', 'late-0'];
    expect(await pseudonyms(again, ids)).toEqual(await pseudonyms((await identitiesUpTo(counting(store).view, first))!, ids));
  });
});
