import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { compact, EntityCache, type CachedEntity } from '../adapters/engine/entity-cache.ts';
import type { EventStore, RecordedEvent } from '../domain/ports/index.ts';
import { emptyEntity } from '../machines/index.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const store = { readStream: async () => [] as RecordedEvent[] } as unknown as EventStore;
const entry = (n: number): CachedEntity => compact(emptyEntity('node', `meter-${String(n).padStart(4, '0')}`));

/**
 * Runs `uses` (synchronously: an async test's suspended frame could itself hold the last entry) and answers how many
 * of the entries it reported are still reachable after a collection. WeakRefs made in a job keep their target alive
 * until the job ends, so the collection waits for the next turn.
 */
const stillHeldAfter = async (uses: (made: (entry: CachedEntity) => CachedEntity) => void): Promise<number> => {
  const refs: WeakRef<CachedEntity>[] = [];
  uses((made) => (refs.push(new WeakRef(made)), made));
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  gc();
  return refs.filter((ref) => ref.deref() !== undefined).length;
};

/**
 * Issue 15 item 3: the cache's memory is its bound. The least recently used entry was once found through one Map
 * iterator kept across evictions, and an iterator V8 has not advanced keeps every table the Map rehashed into since,
 * each holding the entries it had then; the order is now a list linked through the entries (recency-list.ts), which
 * no iterator walks. Either way, a cache that replaces and forgets entries without evicting (under its bound, or
 * between two evictions) must not keep the entries it let go of.
 */
describe('the entity cache lets go of what it no longer holds', () => {
  it('keeps no replaced entry alive while it is under its bound and evicts nothing', async () => {
    const cache = new EntityCache(store, 64 * 1024 * 1024);
    // 300 entities, each remembered again 40 times (an append's new entry, a use of a cached one): the Map rehashes.
    const held = await stillHeldAfter((made) => {
      for (let round = 0; round < 40; round++) for (let n = 0; n < 300; n++) cache.remember(made(entry(n)));
    });
    expect(cache.stats()).toMatchObject({ entries: 300, evictions: 0 });
    // The 300 entries of the last round, and none of the 11,700 they replaced.
    expect(held).toBe(300);
  });

  it('keeps no forgotten entry alive', async () => {
    const cache = new EntityCache(store, 64 * 1024 * 1024);
    const held = await stillHeldAfter((made) => {
      // The Map grows (rehashing) as they come, then each is forgotten (as after a conflict).
      for (let n = 0; n < 6000; n++) cache.remember(made(entry(n)));
      for (let n = 0; n < 6000; n++) cache.forget(entry(n).streamId);
    });
    expect(cache.stats()).toMatchObject({ entries: 0, bytes: 0, evictions: 0 });
    expect(held).toBe(0);
  });

  it('holds what it replaced at its bound, between two evictions, to an eighth of the bound', async () => {
    const one = entry(0).bytes;
    const cache = new EntityCache(store, 200 * one);
    const held = await stillHeldAfter((made) => {
      for (let n = 0; n < 200; n++) cache.remember(made(entry(n)));
      // At the bound: each round one new entry evicts the oldest, then the 200 cached entries are remembered again ten
      // times (an append's new entry, a use of a cached one), which evicts nothing.
      for (let round = 1; round <= 10; round++) {
        cache.remember(made(entry(round + 199)));
        for (let pass = 0; pass < 10; pass++) for (let n = round; n < round + 200; n++) cache.remember(made(entry(n)));
      }
    });
    expect(cache.stats()).toMatchObject({ entries: 200, evictions: 10 });
    // The 200 cached now, and of the 20,000 others at most an eighth of the bound's worth (and the one that passed it).
    expect(held).toBeLessThanOrEqual(200 + 200 / 8 + 1);
  });
});
