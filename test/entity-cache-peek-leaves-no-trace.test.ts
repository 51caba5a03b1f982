import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { EntityCache } from '../adapters/engine/entity-cache.ts';
import { cmd, T0 } from './support/fleet.ts';

/**
 * Review 33: what an unauthenticated device hello looks up must not show on the public cache gauges. `peek` answers
 * the entity as `entity()` does (every event), and leaves the cache as it was: no entry, no hit or miss, no move in
 * the eviction order (test/a-device-hello-leaves-the-entity-cache-gauges-as-they-were.test.ts over HTTP).
 */
describe('an entity read with peek', () => {
  it('is the entity entity() answers, known or unknown, and leaves the entity cache stats as they were', async () => {
    const store = openSqliteStore({ memory: true });
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    await engine.execute(cmd.createSubscription());
    await engine.execute(cmd.registerNode('meter-1'));
    const before = engine.cacheStats();
    const known = await engine.peek('node', 'meter-1');
    const unknown = await engine.peek('node', 'meter-9');
    expect(engine.cacheStats()).toEqual(before);
    expect(known).toEqual(await engine.entity('node', 'meter-1'));
    expect(known.events.length).toBeGreaterThan(0);
    expect(unknown.events).toEqual([]);
    expect(unknown.revision).toBeUndefined();
  });

  it('does not move a cached entry in the eviction order: the least recently used before it still goes first', async () => {
    const store = openSqliteStore({ memory: true });
    const probe = new EntityCache(store, 1 << 20);
    await probe.loadFull('node', 'a');
    // Room for two empty entries of one-character ids, no more.
    const cache = new EntityCache(store, 2 * probe.stats().bytes);
    await cache.loadFull('node', 'a');
    await cache.loadFull('node', 'b');
    await cache.peek('node', 'a');
    await cache.loadFull('node', 'c');
    expect(cache.stats()).toMatchObject({ entries: 2, evictions: 1 });
    const { hits, misses } = cache.stats();
    await cache.load('node', 'b');
    await cache.load('node', 'a');
    // b was still cached; a, used last before b only by the peek, was the one evicted.
    expect(cache.stats()).toMatchObject({ hits: hits + 1, misses: misses + 1 });
  });
});
