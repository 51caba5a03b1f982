import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { createServiceMetrics } from '../adapters/http/metrics.ts';
import { command } from '../domain/commands/index.ts';
import { auditor, cmd, operator, rejection, T0 } from './support/fleet.ts';

/** Issue 15 item 3: the entity cache holds compact snapshots, bounded by bytes, and reports its hit rate. */
const engineWith = (cacheMaxBytes: number) => {
  const store = openSqliteStore({ memory: true });
  return { store, engine: createEngine({ store, clock: new FakeClock(T0), cacheMaxBytes }) };
};

const registerNodes = async (engine: ReturnType<typeof engineWith>['engine'], count: number) => {
  await engine.execute(cmd.createSubscription());
  for (let i = 0; i < count; i++) await engine.execute(cmd.registerNode(`meter-${i}`));
};

describe('the entity cache', () => {
  it('stays within its byte bound, evicting the least recently used, and decisions stay right after eviction', async () => {
    const { engine } = engineWith(20_000);
    await registerNodes(engine, 120);
    const stats = engine.cacheStats();
    expect(stats.bytes).toBeLessThanOrEqual(20_000);
    expect(stats.entries).toBeGreaterThan(0);
    expect(stats.entries).toBeLessThan(120);
    expect(stats.evictions).toBeGreaterThan(0);
    // meter-0 was evicted long ago: it is rebuilt from its stream and decided on its real state.
    expect((await engine.execute(cmd.enrolNode('meter-0'))).state).toBe('enrolled');
    expect(engine.cacheStats().bytes).toBeLessThanOrEqual(20_000);
    const again = await rejection(engine.execute(cmd.registerNode('meter-1')));
    expect(again.problem.code).toBe('illegal_transition');
  });

  it('keeps a snapshot, not the events: a long stream costs a fraction of its events, and history is still read in full', async () => {
    const { store, engine } = engineWith(64 * 1024 * 1024);
    const p = `p-${'c'.repeat(26)}`;
    await registerNodes(engine, 1);
    await engine.execute(command('rotatePseudonym', { pseudonym: p, nodeId: 'meter-0', epoch: 1, trigger: 'initial' }, { actor: operator }));
    const reason = 'r'.repeat(400);
    for (let i = 0; i < 200; i++) await engine.execute(command('resolvePseudonym', { pseudonym: p, reason: `${reason} ${i}` }, { actor: auditor }));
    let storedBytes = 0;
    for (const e of await store.readStream(`pseudonym-${p}`)) storedBytes += JSON.stringify(e.data).length + JSON.stringify(e.metadata).length;
    const { bytes, entries } = engine.cacheStats();
    // Three entries (subscription, node, pseudonym); the pseudonym's 201 events of ~700 bytes are not among them.
    expect(entries).toBe(3);
    expect(bytes).toBeLessThan(storedBytes / 5);
    const full = await engine.entity('pseudonym', p);
    expect(full.events).toHaveLength(201);
    expect(full.snapshot.context.resolutions).toBe(200);
  });

  it('recognises a retried command after its entity was evicted, and refuses its id reused by another actor', async () => {
    const { engine } = engineWith(0);
    await registerNodes(engine, 1);
    const enrol = { ...cmd.enrolNode('meter-0'), metadata: { actor: operator, commandId: crypto.randomUUID() } };
    const first = await engine.execute(enrol);
    const retried = await engine.execute(enrol);
    expect(retried.deduplicated).toBe(true);
    expect(retried.events).toEqual(first.events);
    const reused = await rejection(engine.execute({ ...enrol, metadata: { ...enrol.metadata, actor: { id: 'operator:eve', role: 'operator' } } }));
    expect(reused.problem.code).toBe('validation');
    expect(engine.cacheStats()).toMatchObject({ entries: 0, bytes: 0, maxBytes: 0 });
  });

  it('counts hits and misses, and the service exposes them as Prometheus metrics', async () => {
    const { engine } = engineWith(64 * 1024 * 1024);
    await registerNodes(engine, 3);
    const before = engine.cacheStats();
    for (let i = 0; i < 3; i++) await engine.execute(cmd.enrolNode(`meter-${i}`));
    const after = engine.cacheStats();
    // Each enrolment finds its node and reads the subscription (a fact): all cached.
    expect(after.hits - before.hits).toBe(6);
    expect(after.misses - before.misses).toBe(0);
    expect(after.hitRate).toBeCloseTo(after.hits / (after.hits + after.misses), 10);
    const metrics = createServiceMetrics({ entityCache: () => engine.cacheStats() });
    const text = await metrics.render();
    expect(text).toContain(`credence_entity_cache_hits_total ${after.hits}`);
    expect(text).toContain(`credence_entity_cache_misses_total ${after.misses}`);
    expect(text).toContain(`credence_entity_cache_bytes ${after.bytes}`);
    // Every load a hit: the registrations that started the nodes read nothing (assumed new, not misses: review 184).
    expect(text).toContain(`credence_entity_cache_hit_ratio ${after.hitRate}`);
    expect(text).toContain(`credence_entity_cache_assumed_new_total ${after.assumedNew}`);
    expect(text).toContain(`credence_entity_cache_max_bytes ${64 * 1024 * 1024}`);
    expect(text).toContain(`credence_entity_cache_prefetched_total ${after.prefetched}`);
  });

  it('refuses a bound that is not a whole number of bytes, naming the option', () => {
    const store = openSqliteStore({ memory: true });
    expect(() => createEngine({ store, clock: new FakeClock(T0), cacheMaxBytes: -1 })).toThrow(/options\.cacheMaxBytes/);
    expect(() => createEngine({ store, clock: new FakeClock(T0), cacheMaxBytes: 1.5 })).toThrow(/options\.cacheMaxBytes/);
  });
});
