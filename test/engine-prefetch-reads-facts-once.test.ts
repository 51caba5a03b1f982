import Database from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DAY, FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { hmacSha256 } from '../domain/crypto/index.ts';
import { PseudonymDeriver, pseudonymRotation } from '../projections/pseudonyms/index.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { compact, EntityCache } from '../adapters/engine/entity-cache.ts';
import { command } from '../domain/commands/index.ts';
import type { EventStore, RecordedEvent } from '../domain/ports/index.ts';
import { emptyEntity } from '../machines/index.ts';
import { cmd, operator, rejection, T0 } from './support/fleet.ts';

/** The store with every stream read recorded: one entry per readStream, one per readStreams call. */
const readsCounted = (store: EventStore) => {
  const reads: string[] = [];
  const appends: string[] = [];
  const counted = Object.create(store) as EventStore;
  counted.readStream = (streamId, options) => (reads.push(streamId), store.readStream(streamId, options));
  counted.readStreams = (streamIds) => (reads.push(`many:${streamIds.length}`), store.readStreams!(streamIds));
  counted.appendToStream = (streamId, events, options) => (appends.push(streamId), store.appendToStream(streamId, events, options));
  return { store: counted, reads, appends };
};

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const pseudonym = (n: number) => `p-${[...n.toString(32).padStart(26, '0')].map((d) => BASE32[parseInt(d, 32)]).join('')}`;
const rotate = (nodeId: string, n: number) =>
  command('rotatePseudonym', { pseudonym: pseudonym(n), nodeId, epoch: 1, trigger: 'interval' }, { actor: operator });

const registeredFleet = async (nodes: number) => {
  const raw = openSqliteStore({ memory: true });
  const seeding = createEngine({ store: raw, clock: new FakeClock(T0) });
  await seeding.execute(cmd.createSubscription());
  const ids = Array.from({ length: nodes }, (_, i) => `meter-${i}`);
  for (const id of ids) await seeding.execute(cmd.registerNode(id));
  return { raw, ids, seeding };
};

/**
 * Issue 15 item 5: a rotation tick warms the engine's cache with its chunk's node facts in one store read
 * (`prefetch`), and each rotation then decides without a read of its own. The append still checks every fact, so
 * a node that moved after the prefetch is never rotated on its old state.
 */
describe('prefetching the entities a batch of commands reads', () => {
  it('reads a chunk of nodes in one store call, and the rotations deciding on them read nothing more', async () => {
    const { raw, ids } = await registeredFleet(40);
    const { store, reads } = readsCounted(raw);
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    await engine.prefetch('node', ids);
    expect(reads).toEqual(['many:40']);
    expect(engine.cacheStats()).toMatchObject({ prefetched: 40, hits: 0, misses: 0 });
    for (const [n, id] of ids.entries()) expect((await engine.execute(rotate(id, n))).state).toBe('active');
    expect(reads).toEqual(['many:40']);
    // Each rotation found its node (a hit) and started its pseudonym's stream without a read.
    expect(engine.cacheStats()).toMatchObject({ prefetched: 40, hits: 40, assumedNew: 40 });
    // Already cached: a second prefetch reads nothing.
    await engine.prefetch('node', ids);
    expect(reads).toEqual(['many:40']);
    await raw.close();
  });

  it('reads a long list in slices of 512 streams, letting the event loop turn between them', async () => {
    const { raw, ids } = await registeredFleet(1100);
    const { store, reads } = readsCounted(raw);
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    let turns = 0;
    const ticking = setInterval(() => (turns += 1), 0);
    const first = setImmediate(() => (turns += 1));
    await engine.prefetch('node', ids);
    clearInterval(ticking);
    clearImmediate(first);
    expect(reads).toEqual(['many:512', 'many:512', 'many:76']);
    expect(engine.cacheStats().prefetched).toBe(1100);
    // Two setImmediate turns between the three slices: what was queued before the prefetch ran in between.
    expect(turns).toBeGreaterThan(0);
    await raw.close();
  });

  it('never rotates a node on the state it had at the prefetch: a revocation stored since is caught by the append', async () => {
    const { raw, ids, seeding } = await registeredFleet(2);
    const { store, appends } = readsCounted(raw);
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    await engine.prefetch('node', ids);
    // Another writer (another engine on the store) revokes meter-0 after the prefetch.
    await seeding.execute(command('revokeNode', { nodeId: 'meter-0', reason: 'keyCompromise' }, { actor: operator }));
    const before = (await raw.readStream(`pseudonym-${pseudonym(0)}`)).length;
    const refused = await rejection(engine.execute(rotate('meter-0', 0)));
    expect(refused.problem.code).toBe('illegal_transition');
    expect(refused.message).toContain('nodeIsLive');
    // The first append, decided on the prefetched node, was refused by the store; nothing was written.
    expect(appends).toEqual([`pseudonym-${pseudonym(0)}`]);
    expect((await raw.readStream(`pseudonym-${pseudonym(0)}`)).length).toBe(before);
    expect((await engine.execute(rotate('meter-1', 1))).state).toBe('active');
    await raw.close();
  });

  it('keeps an entry cached while its read was in flight: the newer one, never the one the read returns', async () => {
    const { raw } = await registeredFleet(1);
    const { store, appends } = readsCounted(raw);
    let release: (() => void) | undefined;
    // The bulk read answers with the rows as they were when it was made, after a command on the node went through.
    store.readStreams = async (streamIds) => {
      const rows = await raw.readStreams!(streamIds);
      await new Promise<void>((resolve) => (release = resolve));
      return rows;
    };
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    const prefetched = engine.prefetch('node', ['meter-0']);
    await new Promise((resolve) => setImmediate(resolve));
    expect((await engine.execute(cmd.enrolNode('meter-0'))).state).toBe('enrolled');
    release!();
    await prefetched;
    appends.length = 0;
    // Decided on the enrolled node in the cache: one append, no refusal by the store and no retry.
    expect((await engine.execute(rotate('meter-0', 0))).state).toBe('active');
    expect(appends).toEqual([`pseudonym-${pseudonym(0)}`]);
    await raw.close();
  });

  it('reads nothing with a cache of 0 bytes, which would keep none of it: each decision reads its facts once', async () => {
    const { raw, ids } = await registeredFleet(2);
    const { store, reads } = readsCounted(raw);
    const engine = createEngine({ store, clock: new FakeClock(T0), cacheMaxBytes: 0 });
    await engine.prefetch('node', ids);
    expect(reads).toEqual([]);
    expect((await engine.execute(rotate('meter-0', 0))).state).toBe('active');
    expect(reads).toEqual(['node-meter-0']);
    await raw.close();
  });

  it('lets a rotation tick read each chunk of due nodes in one store read and nothing per rotation', async () => {
    const clock = new FakeClock(T0);
    const key = { prf: async (m: Uint8Array) => hmacSha256(new Uint8Array(32).fill(7), m) };
    const c = openCredence({ location: { memory: true }, clock, pseudonyms: { key } });
    await c.engine.execute(cmd.createSubscription());
    for (let i = 0; i < 30; i++) await c.engine.execute(cmd.registerNode(`meter-${i}`));
    await c.settle();
    // Another process's engine over the same store: none of the nodes is in its cache.
    const { store, reads } = readsCounted(c.store);
    const engine = createEngine({ store, clock });
    const rotation = pseudonymRotation({ engine, deriver: new PseudonymDeriver(key), policy: { default: { everyMs: DAY } } });
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    await new ProjectionRunner({ db, store: c.store, projections: [{ ...rotation, react: undefined }] }).catchUp();
    clock.advance(DAY);
    expect(await rotation.tick()).toBe(30);
    expect(reads).toEqual(['many:30']);
    db.close();
    await c.close();
  });

  it('reads nothing on a store without readStreams, and the decisions read their facts as before', async () => {
    const { raw } = await registeredFleet(3);
    const { store, reads } = readsCounted(raw);
    const bare = Object.create(store) as EventStore & { readStreams?: unknown };
    bare.readStreams = undefined;
    const engine = createEngine({ store: bare, clock: new FakeClock(T0) });
    await engine.prefetch('node', ['meter-0', 'meter-1']);
    expect(reads).toEqual([]);
    expect((await engine.execute(rotate('meter-0', 0))).state).toBe('active');
    expect(reads).toEqual(['node-meter-0']);
    await raw.close();
  });
});

/**
 * The cache evicts the least recently used entry first (its order a list linked through the entries,
 * recency-list.ts). Checked against a plain list kept in use order.
 */
describe('the entity cache eviction order', () => {
  it('matches a reference LRU over any sequence of uses, loads and forgets', () => {
    const store = { readStream: async () => [] as RecordedEvent[] } as unknown as EventStore;
    // Ids of one length: every entry weighs the same, so the bound holds exactly `capacity` of them.
    const key = (prefix: string, n: number) => `${prefix}${String(n).padStart(3, '0')}`;
    const entry = (prefix: string, n: number) => compact(emptyEntity('node', key(prefix, n)));
    const entryBytes = entry('n', 0).bytes;
    const op = fc.oneof(
      fc.record({ kind: fc.constant('remember' as const), id: fc.integer({ min: 0, max: 30 }) }),
      fc.record({ kind: fc.constant('use' as const), id: fc.integer({ min: 0, max: 30 }) }),
      fc.record({ kind: fc.constant('forget' as const), id: fc.integer({ min: 0, max: 30 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.array(op, { maxLength: 300 }), (capacity, ops) => {
        const cache = new EntityCache(store, capacity * entryBytes);
        const model: number[] = [];
        const touch = (id: number) => {
          const at = model.indexOf(id);
          if (at >= 0) model.splice(at, 1);
          model.push(id);
        };
        for (const { kind, id } of ops) {
          if (kind === 'remember') {
            cache.remember(entry('n', id));
            touch(id);
            if (model.length > capacity) model.shift();
          } else if (kind === 'forget') {
            cache.forget(`node-${key('n', id)}`);
            const at = model.indexOf(id);
            if (at >= 0) model.splice(at, 1);
          } else {
            // A use of a cached entry is a hit and makes it the most recent; a miss caches nothing.
            const hits = cache.stats().hits;
            cache.cachedOrNew('node', key('n', id));
            expect(cache.stats().hits - hits).toBe(model.includes(id) ? 1 : 0);
            if (model.includes(id)) touch(id);
          }
          expect(cache.stats().entries).toBe(model.length);
        }
        // The order they go in: new entries fill the free room, then each evicts the oldest left (not cached since:
        // assumed new, neither a hit nor a miss, review 184).
        for (let k = 0; k < capacity - model.length; k++) cache.remember(entry('f', k));
        for (const [k, id] of model.entries()) {
          cache.remember(entry('m', k));
          const assumedNew = cache.stats().assumedNew;
          cache.cachedOrNew('node', key('n', id));
          expect(cache.stats().assumedNew - assumedNew).toBe(1);
        }
      }),
      { numRuns: 300 },
    );
  });
});
