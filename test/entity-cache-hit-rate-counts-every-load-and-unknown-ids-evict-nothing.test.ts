import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { createServiceMetrics } from '../adapters/http/metrics.ts';
import { cmd, T0 } from './support/fleet.ts';

/**
 * Review 184 L1: the hit rate said less than its help. A command starting an entity (no read: `assumedNew`) counted
 * as a miss, so a fleet being registered showed a 0% hit rate; whole-stream reads (`engine.entity`: GET /entities, the
 * device procedures) counted as neither, yet added and evicted entries; and a read of an id that does not exist kept
 * an empty entry, so 40 reads of unknown ids evicted every real entity of a small cache.
 */
const registered = async (nodes: number) => {
  const store = openSqliteStore({ memory: true });
  const engine = createEngine({ store, clock: new FakeClock(T0), cacheMaxBytes: 20_000 });
  await engine.execute(cmd.createSubscription());
  for (let i = 0; i < nodes; i++) await engine.execute(cmd.registerNode(`meter-${i}`));
  return { store, engine };
};

describe('the entity cache hit rate', () => {
  it('counts a command starting an entity as assumed new, not a miss, and exports that count', async () => {
    const { store, engine } = await registered(5);
    // Six entities started, nothing read: no load yet.
    expect(engine.cacheStats()).toMatchObject({ assumedNew: 6, hits: 0, misses: 0, hitRate: 0 });
    // Each enrolment finds its node and the subscription (a fact) cached.
    for (let i = 0; i < 5; i++) await engine.execute(cmd.enrolNode(`meter-${i}`));
    expect(engine.cacheStats()).toMatchObject({ assumedNew: 6, hits: 10, misses: 0, hitRate: 1 });
    const text = await createServiceMetrics({ entityCache: () => engine.cacheStats() }).render();
    expect(text).toContain('credence_entity_cache_assumed_new_total 6');
    expect(text).toContain('credence_entity_cache_misses_total 0');
    expect(text).toContain('credence_entity_cache_hit_ratio 1');
    expect(text).toMatch(/# HELP credence_entity_cache_assumed_new_total .*without a read/);
    await store.close();
  });

  it('counts a whole-stream read as a load: a miss, as it rebuilds from the start whatever is cached', async () => {
    const { store, engine } = await registered(1);
    const before = engine.cacheStats();
    expect((await engine.entity('node', 'meter-0')).events).toHaveLength(1);
    expect(engine.cacheStats()).toMatchObject({ hits: before.hits, misses: before.misses + 1 });
    await store.close();
  });

  it('remembers no entity that does not exist: reads of unknown ids evict no real entry', async () => {
    const { store, engine } = await registered(5);
    const before = engine.cacheStats();
    expect(before).toMatchObject({ entries: 6, evictions: 0 });
    for (let i = 0; i < 40; i++) expect((await engine.entity('node', `nope-${i}`)).revision).toBeUndefined();
    for (let i = 0; i < 40; i++) expect((await engine.view('node', `nope-view-${i}`)).state).toBeDefined();
    expect(engine.cacheStats()).toMatchObject({ entries: 6, bytes: before.bytes, evictions: 0, misses: before.misses + 80 });
    // The real entries are still cached: the next decisions on them are hits.
    const hits = engine.cacheStats().hits;
    for (let i = 0; i < 5; i++) expect((await engine.execute(cmd.enrolNode(`meter-${i}`))).state).toBe('enrolled');
    expect(engine.cacheStats().hits - hits).toBe(10);
    await store.close();
  });
});
