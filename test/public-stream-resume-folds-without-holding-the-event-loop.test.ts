import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentVersionOf } from '../domain/upcasters.ts';
import { ExpectedRevision } from '../domain/ports/event-store.ts';
import { openSqliteStore, type SqliteEventStore } from '../adapters/driven/store/index.ts';
import type { EventStore } from '../domain/ports/event-store.ts';
import { hmacSha256 } from '../domain/crypto/index.ts';
import { identitiesUpTo, PseudonymDeriver, type PseudonymKey } from '../projections/pseudonyms/index.ts';
import { appendRegisteredNodes } from './http-sse.fixtures.ts';

/*
 * A pseudonymised stream resumed at a position (from=end, after=, Last-Event-ID: every reconnect) first folds the
 * identity events up to it. That fold read the whole history without giving the event loop a turn: the service
 * stopped answering anyone (health checks, devices, other streams) for as long as it took, at every open. Now it
 * yields every thousand events, stops when the subscriber has left, and a resume at or after the furthest fold made
 * folds only what came since.
 */

const key: PseudonymKey = { prf: async (m) => hmacSha256(new Uint8Array(32).fill(0x3c), m) };
/** The same store under another identity: no fold made over `store` is known to it. */
const unshared = (store: EventStore): EventStore => ({
  appendToStream: (...a) => store.appendToStream(...a),
  readStream: (...a) => store.readStream(...a),
  readStreams: (...a) => store.readStreams!(...a),
  readAll: (...a) => store.readAll(...a),
  subscribeToAll: (...a) => store.subscribeToAll(...a),
  headPosition: () => store.headPosition(),
}) as EventStore;

describe('the identity fold of a resumed public stream', () => {
  let store: SqliteEventStore;
  let positions: bigint[];
  beforeAll(async () => {
    store = openSqliteStore({ memory: true, durability: 'normal' });
    positions = (await appendRegisteredNodes(store, 'fold', 3_500)).map(BigInt);
  }, 60_000);
  afterAll(() => store.close());

  it('gives the event loop a turn while it folds a long history', async () => {
    let turned = false;
    setImmediate(() => (turned = true));
    const identities = await identitiesUpTo(unshared(store), positions.at(-1)!);
    expect(identities).toBeDefined();
    expect(turned).toBe(true);
  });

  it('stops, with nothing, once the subscriber has left', async () => {
    let asked = 0;
    const folded = await identitiesUpTo(unshared(store), positions.at(-1)!, () => ++asked > 1);
    expect(folded).toBeUndefined();
    expect(asked).toBe(2);
  });

  it('folds on from the furthest fold, and from the start before it, each as a whole fold would', async () => {
    const deriver = new PseudonymDeriver(key);
    const ids = ['fold-0', 'fold-1200', 'fold-3499'];
    const asFolded = async (at: bigint, over: EventStore) => {
      const identities = (await identitiesUpTo(over, at))!;
      return Promise.all(ids.map((id) => identities.pseudonymOf(deriver, 'node', id)));
    };
    const shared = unshared(store);
    for (const k of [1000, 3499, 10, 2000]) {
      expect(await asFolded(positions[k]!, shared)).toEqual(await asFolded(positions[k]!, unshared(store)));
    }
    // What a caller folds on in its copy does not change what the next resume starts from.
    const first = (await identitiesUpTo(shared, positions[3499]!))!;
    first.observe({ type: 'PseudonymRotated', data: { pseudonym: `p-${'a'.repeat(26)}`, nodeId: 'fold-0', epoch: 5, trigger: 'interval' } } as never);
    expect(first.epochOf('fold-0')).toBe(5);
    expect((await identitiesUpTo(shared, positions[3499]!))!.epochOf('fold-0')).toBe(0);
  });

  it('keeps nothing for others past the head: a rotation appended below a resume point past it is folded later', async () => {
    const shared = unshared(store);
    const head = (await store.headPosition())!;
    await identitiesUpTo(shared, head + 1000n);
    const commandId = randomUUID();
    const pseudonym = `p-${'b'.repeat(26)}`;
    const rotated = await store.appendToStream(
      `pseudonym-${pseudonym}`,
      [
        {
          id: randomUUID(),
          type: 'PseudonymRotated',
          data: { pseudonym, nodeId: 'fold-0', epoch: 1, trigger: 'interval' },
          metadata: {
            schemaVersion: currentVersionOf('PseudonymRotated'),
            actor: { id: 'system:pseudonyms', role: 'system' },
            commandId,
            commandType: 'rotatePseudonym',
            correlationId: commandId,
            causationId: commandId,
            occurredAt: new Date().toISOString(),
          },
        },
      ],
      { expectedRevision: ExpectedRevision.noStream },
    );
    expect(rotated.position).toBeLessThan(head + 1000n);
    expect((await identitiesUpTo(shared, rotated.position))!.epochOf('fold-0')).toBe(1);
    expect((await identitiesUpTo(shared, head + 2000n))!.epochOf('fold-0')).toBe(1);
  });
});
