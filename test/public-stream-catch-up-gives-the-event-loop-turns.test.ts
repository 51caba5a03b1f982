import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openSqliteStore, type SqliteEventStore } from '../adapters/driven/store/index.ts';
import { hmacSha256 } from '../domain/crypto/index.ts';
import { identitiesUpTo, PublicIdentities, PseudonymDeriver, type PseudonymKey } from '../projections/pseudonyms/index.ts';
import { ExpectedRevision } from '../domain/ports/event-store.ts';
import { profile } from './support/fleet.ts';
import { pacedEvents } from '../projections/streams/paced.ts';
import { publicEvents$ } from '../projections/streams/index.ts';
import { appendRegisteredNodes, registrationMetadata } from './http-sse.fixtures.ts';
import type { EventStore } from '../domain/ports/event-store.ts';

/*
 * Found in review: the embedded store reads a page synchronously, and a record a stream's filter drops is never
 * written to a socket, so a catch-up never let the event loop turn. A pseudonymised stream with a narrow filter held
 * it for seconds over a long log (every request, heartbeat and device protocol of the service waiting), deriving a
 * pseudonym in the Secure Environment for each event it then dropped; and each open copied the fleet's identity fold
 * in one go (a second for 200,000 nodes).
 */

const EVENTS = 3_000;


describe('a stream catching up over events its filter drops', () => {
  let store: SqliteEventStore;
  beforeAll(async () => {
    store = openSqliteStore({ memory: true, durability: 'normal' });
    await appendRegisteredNodes(store, 'quiet', EVENTS);
  }, 60_000);
  afterAll(() => store.close());

  it('lets the event loop turn while it pulls them', async () => {
    let pulled = 0;
    let turns = 0;
    let caughtUp!: () => void;
    const done = new Promise<void>((resolve) => (caughtUp = resolve));
    let running = true;
    const turn = (): void => {
      turns += 1;
      if (running) setImmediate(turn);
    };
    setImmediate(turn);
    const subscription = pacedEvents(store, { from: { kind: 'start' }, server: {}, keep: () => true }, () => {
      if (++pulled === EVENTS) caughtUp();
      return undefined;
    }).subscribe();
    try {
      await done;
    } finally {
      running = false;
      subscription.unsubscribe();
    }
    // One turn per 256 records at least (the bound in paced.ts); before, none until the catch-up was through.
    expect(turns).toBeGreaterThanOrEqual(Math.floor(EVENTS / 256) - 1);
  });

  it('derives no pseudonym for an event the pseudonymised stream does not deliver', async () => {
    let prfCalls = 0;
    const key: PseudonymKey = {
      prf: async (m) => {
        prfCalls += 1;
        return hmacSha256(new Uint8Array(32).fill(0x11), m);
      },
    };
    // The store as the stream sees it, counting what its subscription hands out: the catch-up is through once every
    // node's registration was pulled (nothing of kind subscription exists).
    let pulled = 0;
    const counting = Object.create(store) as EventStore;
    counting.subscribeToAll = (options) => {
      const inner = store.subscribeToAll(options);
      return Object.assign(Object.create(inner), {
        async *[Symbol.asyncIterator]() {
          for await (const record of inner) {
            pulled += 1;
            yield record;
          }
        },
        unsubscribe: () => inner.unsubscribe(),
      });
    };
    const delivered: unknown[] = [];
    const subscription = publicEvents$(counting, new PseudonymDeriver(key), { kinds: ['subscription'] }).subscribe((e) => delivered.push(e));
    try {
      await expect.poll(() => pulled, { timeout: 20_000 }).toBe(EVENTS);
    } finally {
      subscription.unsubscribe();
    }
    expect(delivered).toEqual([]);
    expect(prfCalls).toBe(0);
  });
});

describe('PublicIdentities.copyPausing', () => {
  const registered = (nodeId: string): { type: 'NodeEnrolled'; data: Record<string, unknown> } => ({ type: 'NodeEnrolled', data: { nodeId, cseId: `/cse-${nodeId}` } });

  it('copies as copy() does, pausing between slices, and the copy folds on without changing the original', async () => {
    const original = new PublicIdentities();
    for (let i = 0; i < 1_000; i++) {
      original.observe(registered(`n-${i}`) as never);
      original.observe({ type: 'PseudonymRotated', data: { nodeId: `n-${i}`, epoch: i % 7, pseudonym: 'p-aaaaaaaaaaaaaaaaaaaaaaaaaa', trigger: 'interval' } } as never);
    }
    let pauses = 0;
    const copied = await original.copyPausing(async () => void (pauses += 1), 100);
    expect(pauses).toBeGreaterThanOrEqual(20);
    const deriver = new PseudonymDeriver({ prf: async (m) => hmacSha256(new Uint8Array(32).fill(0x22), m) });
    for (const id of ['n-0', 'n-500', 'n-999']) {
      expect(copied.nodeOf('cse', `/cse-${id}`)).toBe(id);
      expect(await copied.pseudonymOf(deriver, 'cse', `/cse-${id}`)).toBe(await original.copy().pseudonymOf(deriver, 'cse', `/cse-${id}`));
    }
    copied.observe({ type: 'NodeRevoked', data: { nodeId: 'n-1', reason: 'keyCompromise' } } as never);
    copied.observe({ type: 'PseudonymRotated', data: { nodeId: 'n-2', epoch: 99, pseudonym: 'p-aaaaaaaaaaaaaaaaaaaaaaaaaa', trigger: 'demand' } } as never);
    expect(copied.epochOf('n-2')).toBe(99);
    expect(original.epochOf('n-2')).toBe(2);
  });
});

describe('a pseudonymised stream closed while its fold is copied', () => {
  let store: SqliteEventStore;
  beforeAll(async () => {
    store = openSqliteStore({ memory: true, durability: 'normal' });
    // Some 12,000 identity entries: a copy of the fold pauses once at least (every 10,000 entries).
    for (let i = 0; i < 12_000; i++) {
      const nodeId = `n-${i}`;
      const commandId = randomUUID();
      await store.appendToStream(
        `node-${nodeId}`,
        [{ id: randomUUID(), type: 'NodeRegistered', data: { nodeId, profile, bootstrapCredentialId: `${nodeId}-boot` }, metadata: registrationMetadata(commandId) }],
        { expectedRevision: ExpectedRevision.noStream },
      );
    }
  }, 120_000);
  afterAll(() => store.close());

  it('stops copying at the next pause (found in review: each closed stream copied the whole fold to the end)', async () => {
    const head = (await store.headPosition())!;
    expect(await identitiesUpTo(store, head)).toBeDefined();
    const outcomes: string[] = [];
    const copy = PublicIdentities.prototype.copyPausing;
    const spy = vi.spyOn(PublicIdentities.prototype, 'copyPausing').mockImplementation(function (this: PublicIdentities, ...args) {
      const copying = copy.apply(this, args);
      copying.then(() => outcomes.push('copied'), () => outcomes.push('stopped'));
      return copying;
    });
    try {
      // The subscriber has left from the start: the copy of the kept fold stops at its first pause.
      expect(await identitiesUpTo(store, head, () => true)).toBeUndefined();
    } finally {
      spy.mockRestore();
    }
    await new Promise((resolve) => setImmediate(resolve));
    expect(outcomes).toEqual(['stopped']);
  });
});
