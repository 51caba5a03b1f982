import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../../domain/errors.ts';
import { ExpectedRevision, type EventStore } from '../../domain/ports/index.ts';
import { ids, newEvent, newEvents, uniqueNames } from './helpers.ts';

type Settled = { ok: true; value: Awaited<ReturnType<EventStore['appendToStream']>> } | { ok: false; error: unknown };
const settle = (attempt: Promise<Awaited<ReturnType<EventStore['appendToStream']>>>): Promise<Settled> =>
  attempt.then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error }),
  );
const conflictOn = (s: Settled | undefined, streamId: string): boolean =>
  s !== undefined && !s.ok && isCredenceError(s.error, 'concurrency_conflict') && s.error.problem.code === 'concurrency_conflict' && s.error.problem.streamId === streamId;

/**
 * Issue 15 item 1: appends issued together (the SQLite store commits them as one group, one sync) each get their own
 * checks and their own outcome, in the order they were issued; one refusal never fails a neighbour.
 */
export function describeConcurrentAppendConformance(store: () => EventStore): void {
  describe('appends issued together', () => {
    it('each gets its own outcome: refusals (stale revision, moved fact) never fail a neighbour', async () => {
      const { stream, prefix } = uniqueNames('together');
      const fact = stream('fact');
      await store().appendToStream(fact, [newEvent('F1')], { expectedRevision: ExpectedRevision.noStream });
      await store().appendToStream(fact, [newEvent('F2')], { expectedRevision: ExpectedRevision.exact(0n) });
      const attempts = [
        store().appendToStream(stream('a'), [newEvent('A')], { expectedRevision: ExpectedRevision.noStream }),
        // Stale expectation: refused.
        store().appendToStream(stream('b'), [newEvent('B')], { expectedRevision: ExpectedRevision.exact(3n) }),
        store().appendToStream(stream('c'), newEvents('C', 2), { expectedRevision: ExpectedRevision.noStream, commandId: `c-${prefix}` }),
        // A fact read at revision 0 that has moved to 1: refused.
        store().appendToStream(stream('d'), [newEvent('D')], { expectedRevision: ExpectedRevision.noStream, facts: [{ streamId: fact, revision: 0n }] }),
        store().appendToStream(stream('e'), [newEvent('E')], { expectedRevision: ExpectedRevision.any }),
        // A stream expected absent that an earlier append of the same group creates: refused.
        store().appendToStream(stream('a'), [newEvent('A2')], { expectedRevision: ExpectedRevision.noStream }),
        // A fact still at the revision read: stored.
        store().appendToStream(stream('g'), [newEvent('G')], { expectedRevision: ExpectedRevision.noStream, facts: [{ streamId: fact, revision: 1n }] }),
      ].map(settle);
      const [a, b, c, d, e, f, g] = await Promise.all(attempts);
      expect([a?.ok, c?.ok, e?.ok, g?.ok]).toEqual([true, true, true, true]);
      expect(conflictOn(b, stream('b'))).toBe(true);
      expect(conflictOn(d, fact)).toBe(true);
      expect(conflictOn(f, stream('a'))).toBe(true);
      for (const [name, length] of [['a', 1], ['b', 0], ['c', 2], ['d', 0], ['e', 1], ['g', 1]] as const) {
        expect(await store().readStream(stream(name)), name).toHaveLength(length);
      }
    });

    it('see each other in the order issued: expectations chain and a repeated command id is deduplicated', async () => {
      const { stream, prefix } = uniqueNames('chain');
      const commandId = `cmd-${prefix}`;
      const first = newEvent('A');
      const [one, two, again, stale] = await Promise.all(
        [
          store().appendToStream(stream('a'), [first], { expectedRevision: ExpectedRevision.noStream, commandId }),
          store().appendToStream(stream('a'), [newEvent('B')], { expectedRevision: ExpectedRevision.exact(0n) }),
          store().appendToStream(stream('a'), [newEvent('A')], { expectedRevision: ExpectedRevision.noStream, commandId }),
          store().appendToStream(stream('a'), [newEvent('C')], { expectedRevision: ExpectedRevision.noStream }),
        ].map(settle),
      );
      expect(one?.ok && two?.ok && again?.ok).toBe(true);
      if (one?.ok && two?.ok && again?.ok) {
        expect(one.value.deduplicated).toBe(false);
        expect(two.value.nextExpectedRevision).toBe(1n);
        expect(again.value).toEqual({ ...one.value, deduplicated: true });
      }
      expect(conflictOn(stale, stream('a'))).toBe(true);
      expect(ids(await store().readStream(stream('a')))[0]).toBe(first.id);
      expect(await store().readStream(stream('a'))).toHaveLength(2);
    });

    it('many appends to distinct streams issued at once are all stored, each once, with distinct positions', async () => {
      const { stream } = uniqueNames('many');
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          store().appendToStream(stream(`s${i}`), [newEvent('M', { i })], { expectedRevision: ExpectedRevision.noStream }),
        ),
      );
      expect(new Set(results.map((r) => r.position)).size).toBe(200);
      for (let i = 0; i < 200; i += 37) expect(await store().readStream(stream(`s${i}`))).toHaveLength(1);
    });
  });
}
