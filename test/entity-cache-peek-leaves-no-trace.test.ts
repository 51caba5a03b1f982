import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { EntityCache } from '../adapters/engine/entity-cache.ts';
import { cmd, T0 } from './support/fleet.ts';

/**
 * Review 33: what an unauthenticated device hello looks up must not show on the public cache gauges. `peek` answers
 * the entity's snapshot and revision as `entity()` does, with its issue, and leaves the cache as it was: no entry, no
 * hit or miss, no move in the eviction order (test/a-device-hello-leaves-the-entity-cache-gauges-as-they-were.test.ts
 * over HTTP).
 */
describe('an entity read with peek', () => {
  it('is the entity entity() answers, known or unknown, and leaves the entity cache stats as they were', async () => {
    const store = openSqliteStore({ memory: true });
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    await engine.execute(cmd.createSubscription());
    await engine.execute(cmd.registerNode('meter-1'));
    await engine.execute(cmd.enrolNode('meter-1'));
    await engine.execute(cmd.issueCredential('cred-1', 'meter-1'));
    const before = engine.cacheStats();
    const known = await engine.peek('node', 'meter-1');
    const credential = await engine.peek('credential', 'cred-1');
    const unknown = await engine.peek('node', 'meter-9');
    expect(engine.cacheStats()).toEqual(before);
    const { events: nodeEvents, ...node } = await engine.entity('node', 'meter-1');
    expect(known).toEqual({ ...node, issued: undefined });
    expect(nodeEvents.length).toBeGreaterThan(0);
    const { events: credentialEvents, ...issuedCredential } = await engine.entity('credential', 'cred-1');
    const issue = credentialEvents[0]!.event;
    expect(issue.type).toBe('CredentialIssued');
    // Of the issue, only what the hello's descriptor reads (its public key; no certificate here).
    expect(credential).toEqual({ ...issuedCredential, issued: { publicKey: (issue.data as { publicKey?: string }).publicKey } });
    expect(unknown.revision).toBeUndefined();
    expect(unknown.issued).toBeUndefined();
  });

  it('does not move a cached entry in the eviction order: the least recently used before it still goes first', async () => {
    const store = openSqliteStore({ memory: true });
    // Three registered nodes (an entity that does not exist takes no room in the cache: review 184).
    const seeding = createEngine({ store, clock: new FakeClock(T0) });
    await seeding.execute(cmd.createSubscription());
    for (const id of ['meter-a', 'meter-b', 'meter-c']) await seeding.execute(cmd.registerNode(id));
    const probe = new EntityCache(store, 1 << 20);
    await probe.loadFull('node', 'meter-a');
    // Room for two of these entries (ids of one length), no more.
    const engine = createEngine({ store, clock: new FakeClock(T0), cacheMaxBytes: 2 * probe.stats().bytes });
    await engine.entity('node', 'meter-a');
    await engine.entity('node', 'meter-b');
    await engine.peek('node', 'meter-a');
    await engine.entity('node', 'meter-c');
    expect(engine.cacheStats()).toMatchObject({ entries: 2, evictions: 1 });
    const { hits, misses } = engine.cacheStats();
    await engine.view('node', 'meter-b');
    await engine.view('node', 'meter-a');
    // b was still cached; a, used last before b only by the peek, was the one evicted.
    expect(engine.cacheStats()).toMatchObject({ hits: hits + 1, misses: misses + 1 });
  });
});
