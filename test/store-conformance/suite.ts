import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCredenceError } from '../../domain/errors.ts';
import { factClaimOf, isFactClaim } from '../../domain/fact-claims.ts';
import { type JsonObject } from '../../domain/ports/index.ts';
import { type EventStore } from '../../domain/ports/index.ts';
import { type RecordedEvent } from '../../domain/ports/index.ts';
import { ExpectedRevision } from '../../domain/ports/index.ts';
import {
  collect,
  expectConflict,
  expectStrictlyIncreasing,
  ids,
  newEvent,
  newEvents,
  nextWithin,
  take,
  uniqueNames,
} from './helpers.ts';
import { describeFactConformance } from './facts-suite.ts';
import { describeConcurrentAppendConformance } from './concurrent-appends-suite.ts';
import { describeAppendArgumentConformance } from './append-arguments-suite.ts';
import { describeCertifiedKeyConformance } from './certified-keys-suite.ts';

export type StoreFactory = () => Promise<{ store: EventStore; cleanup?: () => Promise<void> }>;

/**
 * What every EventStore must do, asserted only through the port (adapters/store/port.ts), so the same suite runs
 * on the embedded SQLite store and on EventStoreDB. Each test writes to its own randomly named streams and reads
 * relative to positions it got back, never assuming the store starts empty.
 */
export function describeStoreConformance(name: string, factory: StoreFactory): void {
  describe(`event store conformance: ${name}`, () => {
    let store: EventStore;
    let cleanup: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      ({ store, cleanup } = await factory());
    });
    afterAll(async () => {
      await store?.close();
      await cleanup?.();
    });

    const appendAll = (streamId: string, events: Parameters<EventStore['appendToStream']>[1]) =>
      store.appendToStream(streamId, events, { expectedRevision: ExpectedRevision.any });

    describe('appendToStream', () => {
      it('creates a stream at revision 0 when no stream is expected', async () => {
        const { stream } = uniqueNames('create');
        const event = newEvent('Created');
        const result = await store.appendToStream(stream('a'), [event], { expectedRevision: ExpectedRevision.noStream });
        expect(result).toEqual({ nextExpectedRevision: 0n, position: result.position, deduplicated: false });
        const stored = await store.readStream(stream('a'));
        expect(stored.map((e) => [e.id, e.revision, e.position])).toEqual([[event.id, 0n, result.position]]);
      });

      it('continues a stream at the exact revision it was read at', async () => {
        const { stream } = uniqueNames('exact');
        const first = await store.appendToStream(stream('a'), [newEvent('A')], { expectedRevision: ExpectedRevision.noStream });
        const second = await store.appendToStream(stream('a'), newEvents('B', 2), {
          expectedRevision: ExpectedRevision.exact(first.nextExpectedRevision),
        });
        expect(second.nextExpectedRevision).toBe(2n);
        expect(second.position > first.position).toBe(true);
        expect((await store.readStream(stream('a'))).map((e) => e.revision)).toEqual([0n, 1n, 2n]);
      });

      it('appends with any expectation to a new and to an existing stream', async () => {
        const { stream } = uniqueNames('any');
        const created = await appendAll(stream('a'), [newEvent('A')]);
        const continued = await appendAll(stream('a'), [newEvent('A')]);
        expect([created.nextExpectedRevision, continued.nextExpectedRevision]).toEqual([0n, 1n]);
      });

      it('refuses a stale expectation with a concurrency conflict and writes nothing', async () => {
        const { stream, prefix } = uniqueNames('conflict');
        const head = await store.appendToStream(stream('a'), newEvents('A', 2), { expectedRevision: ExpectedRevision.noStream });
        const rejected = newEvents('Rejected', 3);
        await expectConflict(
          store.appendToStream(stream('a'), rejected, { expectedRevision: ExpectedRevision.noStream }),
          stream('a'),
        );
        await expectConflict(
          store.appendToStream(stream('a'), rejected, { expectedRevision: ExpectedRevision.exact(0n) }),
          stream('a'),
        );
        await expectConflict(
          store.appendToStream(stream('missing'), rejected, { expectedRevision: ExpectedRevision.exact(0n) }),
          stream('missing'),
        );
        expect((await store.readStream(stream('a'))).length).toBe(2);
        expect(await store.readStream(stream('missing'))).toEqual([]);
        const later = await collect(store.readAll({ afterPosition: head.position, filter: { streamPrefixes: [prefix] } }));
        expect(later).toEqual([]);
      });

      it('gives a multi-event append consecutive revisions and increasing positions', async () => {
        const { stream } = uniqueNames('multi');
        await appendAll(stream('a'), [newEvent('A')]);
        const batch = newEvents('B', 5);
        const result = await appendAll(stream('a'), batch);
        const stored = await store.readStream(stream('a'), { fromRevision: 1n });
        expect(ids(stored)).toEqual(ids(batch));
        expect(stored.map((e) => e.revision)).toEqual([1n, 2n, 3n, 4n, 5n]);
        expectStrictlyIncreasing(stored.map((e) => e.position));
        expect(result.nextExpectedRevision).toBe(5n);
        expect(result.position).toBe(stored.at(-1)?.position);
      });

      it('reports a head position at or past the last append', async () => {
        const { stream } = uniqueNames('head');
        const result = await appendAll(stream('a'), newEvents('A', 2));
        const head = await store.headPosition();
        expect(head !== undefined && head >= result.position).toBe(true);
      });
    });

    describeFactConformance(() => store);
    describeConcurrentAppendConformance(() => store);
    describeAppendArgumentConformance(() => store, factory);
    describeCertifiedKeyConformance(() => store);

    describe('idempotency by command id', () => {
      it('returns the first result for a repeated command id and writes nothing more', async () => {
        const { stream, prefix } = uniqueNames('idem');
        const events = newEvents('A', 2);
        const options = { expectedRevision: ExpectedRevision.noStream, commandId: `cmd-${prefix}` };
        const first = await store.appendToStream(stream('a'), events, options);
        const retried = await store.appendToStream(stream('a'), events, options);
        const retriedWithOtherEvents = await store.appendToStream(stream('a'), newEvents('B', 1), {
          expectedRevision: ExpectedRevision.any,
          commandId: options.commandId,
        });
        expect(first.deduplicated).toBe(false);
        for (const again of [retried, retriedWithOtherEvents]) {
          expect(again).toEqual({ ...first, deduplicated: true });
        }
        expect(ids(await store.readStream(stream('a')))).toEqual(ids(events));
        const all = await collect(store.readAll({ afterPosition: first.position, filter: { streamPrefixes: [prefix] } }));
        expect(all).toEqual([]);
      });

      it('binds a command id to its stream: the id again on another stream is answered with the first result and writes nothing there', async () => {
        const { stream, prefix } = uniqueNames('idem-elsewhere');
        const commandId = `cmd-${prefix}`;
        // Another event first, so that the first append's result is not where a binding of the id would be.
        await appendAll(stream('a'), [newEvent('Before')]);
        const first = await store.appendToStream(stream('a'), newEvents('A', 2), { expectedRevision: ExpectedRevision.exact(0n), commandId });
        for (const expectedRevision of [ExpectedRevision.noStream, ExpectedRevision.any]) {
          const elsewhere = await store.appendToStream(stream('b'), [newEvent('B')], { expectedRevision, commandId });
          expect(elsewhere).toEqual({ ...first, deduplicated: true });
        }
        const withFact = await store.appendToStream(stream('c'), [newEvent('C')], {
          expectedRevision: ExpectedRevision.noStream,
          commandId,
          facts: [{ streamId: stream('a'), revision: 2n }],
        });
        expect(withFact).toEqual({ ...first, deduplicated: true });
        expect(await store.readStream(stream('b'))).toEqual([]);
        expect(await store.readStream(stream('c'))).toEqual([]);
        expect(await store.readStream(stream('a'))).toHaveLength(3);
        const all = await collect(store.readAll({ afterPosition: first.position, filter: { streamPrefixes: [prefix] } }));
        expect(all).toEqual([]);
      });

      it('a refused append binds its command id to nothing: the id is then written on another stream', async () => {
        const { stream, prefix } = uniqueNames('idem-refused');
        for (const [label, facts] of [
          ['without facts', []],
          ['with facts', [{ streamId: stream('fact'), revision: undefined }]],
        ] as const) {
          const commandId = `cmd-${label}-${prefix}`;
          const refused = stream(`refused-${label}`);
          const taken = stream(`taken-${label}`);
          await appendAll(refused, newEvents('A', 2));
          await expectConflict(store.appendToStream(refused, [newEvent('A')], { expectedRevision: ExpectedRevision.exact(5n), commandId, facts }), refused);
          const written = await store.appendToStream(taken, [newEvent('B')], { expectedRevision: ExpectedRevision.noStream, commandId, facts });
          expect(written.deduplicated, label).toBe(false);
          expect(await store.readStream(taken), label).toHaveLength(1);
          expect(await store.readStream(refused), label).toHaveLength(2);
        }
      });

      it('an append refused because a fact moved binds its command id to nothing and claims none of its facts', async () => {
        // Review 132: on EventStoreDB the id was bound, and the facts before the moved one claimed, before the moved fact
        // refused the append; the id then read as a repeat with nothing written.
        const { stream, prefix } = uniqueNames('idem-fact-moved');
        const commandId = `cmd-${prefix}`;
        const still = stream('still');
        const moved = stream('moved');
        await appendAll(still, [newEvent('S')]);
        await appendAll(moved, newEvents('M', 2));
        const facts = [
          { streamId: still, revision: 0n },
          { streamId: moved, revision: 0n },
        ];
        await expectConflict(store.appendToStream(stream('refused'), [newEvent('A')], { expectedRevision: ExpectedRevision.noStream, commandId, facts }), moved);
        expect(await store.readStream(stream('refused'))).toEqual([]);
        expect(await store.commandStream?.(commandId)).toBeUndefined();
        // Decided again on the facts as they stand: `still` was not claimed at revision 0, so that fact still holds.
        const written = await store.appendToStream(stream('taken'), [newEvent('B')], {
          expectedRevision: ExpectedRevision.noStream,
          commandId,
          facts: [facts[0]!, { streamId: moved, revision: 1n }],
        });
        expect(written.deduplicated).toBe(false);
        expect(await store.readStream(stream('taken'))).toHaveLength(1);
      });

      it('a command id and stream id of any length: a retry after a refused append is written, a repeat answered with its own result', async () => {
        const { stream } = uniqueNames('idem-long');
        const target = `${stream('a')}-${'s'.repeat(320)}`;
        const commandId = `cmd-${'c'.repeat(260)}`;
        await expect(store.appendToStream(target, [newEvent('A')], { expectedRevision: ExpectedRevision.exact(3n), commandId })).rejects.toThrow();
        const written = await store.appendToStream(target, [newEvent('A')], { expectedRevision: ExpectedRevision.noStream, commandId });
        expect(written.deduplicated).toBe(false);
        const again = await store.appendToStream(target, [newEvent('A')], { expectedRevision: ExpectedRevision.noStream, commandId });
        expect(again).toEqual({ ...written, deduplicated: true });
        expect(await store.readStream(target)).toHaveLength(1);
      });

      it('a command id or stream id of any length, with facts or a certified key: one longer than a fact claim holds is refused, writing nothing', async () => {
        // Review 421: with facts, EventStoreDB wrote the fact's claim with a command id past the claim's 200 characters
        // (domain/fact-claims.ts), and the fact's stream then read as "unreadable: malformed fact claim"; SQLite committed.
        const { stream, prefix } = uniqueNames('idem-long-facts');
        const node = stream('node');
        await store.appendToStream(node, [newEvent('NodeRegistered')], { expectedRevision: ExpectedRevision.noStream });
        const facts = [{ streamId: node, revision: 0n }];
        const key = `sha256:${createHash('sha256').update(randomUUID()).digest('hex')}`;
        const longCommand = `cmd-${prefix}${'c'.repeat(240)}`;
        const longStream = `${stream('b')}-${'s'.repeat(320)}`;
        const refused: [string, Omit<Parameters<EventStore['appendToStream']>[2], 'expectedRevision'>, RegExp][] = [
          [stream('a'), { commandId: longCommand, facts }, /options\.commandId: .*at most 200 characters/],
          [stream('a'), { commandId: longCommand, certifiesKey: key }, /options\.commandId: .*at most 200 characters/],
          [longStream, { commandId: `cmd-${prefix}`, facts }, /streamId: .*at most 300 characters/],
          [longStream, { facts }, /streamId: .*at most 300 characters/],
          [longStream, { certifiesKey: key }, /streamId: .*at most 300 characters/],
        ];
        for (const [target, options, said] of refused) {
          const error = await store.appendToStream(target, [newEvent('A')], { expectedRevision: ExpectedRevision.noStream, ...options }).catch((e: unknown) => e);
          expect(isCredenceError(error, 'validation'), `expected a validation error, got ${String(error)}`).toBe(true);
          expect((error as Error).message).toMatch(said);
          expect(await store.readStream(target)).toEqual([]);
        }
        expect(await store.commandStream?.(longCommand)).toBeUndefined();
        expect(await store.keyCertifiedBy?.(key)).toBeUndefined();
        // The fact reads back whole, and a decision on it at the claim's limits is written.
        expect(await store.readStream(node)).toHaveLength(1);
        const atLimits = `${stream('c')}-`.padEnd(300, 's');
        const written = await store.appendToStream(atLimits, [newEvent('A')], {
          expectedRevision: ExpectedRevision.noStream,
          commandId: `cmd-${prefix}`.padEnd(200, 'c'),
          facts,
          certifiesKey: key,
        });
        expect(written.deduplicated).toBe(false);
        // Its claim, on a store that writes one (EventStoreDB), is one the fact's readers read (machines/stored.ts).
        const fact = await store.readStream(node);
        expect(fact.filter((record) => !isFactClaim(record))).toHaveLength(1);
        expect(fact.filter(isFactClaim).map(factClaimOf)).not.toContain(undefined);
        expect(await store.readStream(atLimits)).toHaveLength(1);
      });

      it('appends commands with different ids independently', async () => {
        const { stream, prefix } = uniqueNames('idem2');
        await appendAll(stream('a'), [newEvent('A')]);
        const one = await store.appendToStream(stream('a'), [newEvent('A')], {
          expectedRevision: ExpectedRevision.any,
          commandId: `one-${prefix}`,
        });
        const two = await store.appendToStream(stream('a'), [newEvent('A')], {
          expectedRevision: ExpectedRevision.any,
          commandId: `two-${prefix}`,
        });
        expect([one.deduplicated, two.deduplicated]).toEqual([false, false]);
        expect((await store.readStream(stream('a'))).length).toBe(3);
      });

      it('reads back exactly the events a command id recorded on its stream, and nothing elsewhere', async () => {
        const { stream, prefix } = uniqueNames('readcmd');
        const commandId = `cmd-${prefix}`;
        await appendAll(stream('a'), newEvents('Before', 2));
        const mine = newEvents('Mine', 3);
        await store.appendToStream(stream('a'), mine, { expectedRevision: ExpectedRevision.exact(1n), commandId });
        await store.appendToStream(stream('a'), [newEvent('Other')], { expectedRevision: ExpectedRevision.any, commandId: `other-${prefix}` });
        // Events that merely carry the id in their metadata were not appended under it.
        await appendAll(stream('a'), [newEvent('Unkeyed', {}, { commandId })]);
        // Another stream's append under another id interleaves with nothing of this command.
        await appendAll(stream('b'), newEvents('B', 2));
        // A retry (deduplicated) records nothing more.
        await store.appendToStream(stream('a'), mine, { expectedRevision: ExpectedRevision.exact(1n), commandId });

        const recorded = await store.readCommand(stream('a'), commandId);
        const asRead = (await store.readStream(stream('a'))).slice(2, 5);
        expect(recorded).toEqual(asRead);
        expect(recorded.map((e) => [e.id, e.type, e.revision, e.data])).toEqual(mine.map((e, i) => [e.id, 'Mine', BigInt(2 + i), e.data]));
        expect(await store.readCommand(stream('b'), commandId)).toEqual([]);
        expect(await store.readCommand(stream('missing'), commandId)).toEqual([]);
        expect(await store.readCommand(stream('a'), `never-${prefix}`)).toEqual([]);
        await expect(store.readCommand(stream('a'), '')).rejects.toThrow(/commandId/);
      });
    });

    describe('readStream', () => {
      it('reads from a revision, up to a count, and nothing for a missing stream', async () => {
        const { stream } = uniqueNames('read');
        const events = newEvents('A', 6);
        await appendAll(stream('a'), events);
        expect(ids(await store.readStream(stream('a')))).toEqual(ids(events));
        expect(ids(await store.readStream(stream('a'), { fromRevision: 4n }))).toEqual(ids(events.slice(4)));
        expect(ids(await store.readStream(stream('a'), { maxCount: 2 }))).toEqual(ids(events.slice(0, 2)));
        expect(ids(await store.readStream(stream('a'), { fromRevision: 1n, maxCount: 3 }))).toEqual(ids(events.slice(1, 4)));
        expect(await store.readStream(stream('a'), { fromRevision: 6n })).toEqual([]);
        expect(await store.readStream(stream('never-written'))).toEqual([]);
      });
    });

    describe('readAll', () => {
      it('returns events strictly after the given position, in global order', async () => {
        const { stream, prefix } = uniqueNames('all');
        const a = newEvents('A', 2);
        const b = newEvents('B', 2);
        const first = await appendAll(stream('a'), a);
        await appendAll(stream('b'), b);
        const firstPosition = (await store.readStream(stream('a')))[0]!.position;
        const read = await collect(store.readAll({ afterPosition: firstPosition, filter: { streamPrefixes: [prefix] } }));
        expect(ids(read)).toEqual(ids([...a.slice(1), ...b]));
        expectStrictlyIncreasing(read.map((e) => e.position));
        const afterA = await collect(store.readAll({ afterPosition: first.position, filter: { streamPrefixes: [prefix] } }));
        expect(ids(afterA)).toEqual(ids(b));
      });

      it('reads the event at a position it gave, from position 0 the first, and nothing at a position it never gave', async () => {
        const { stream } = uniqueNames('at');
        const a = newEvents('A', 2);
        await appendAll(stream('a'), a);
        const [first, second] = await store.readStream(stream('a'));
        expect(store.recordAt, 'every store reads the record at a position').toBeDefined();
        expect((await store.recordAt!(second!.position))?.id).toBe(a[1]!.id);
        expect((await store.recordAt!(first!.position))?.id).toBe(a[0]!.id);
        expect(await store.recordAt!(0n)).toBeUndefined();
        // Position 0 means the start: the log's first record is read, whatever it is.
        const [head] = await collect(store.readAll({ afterPosition: 0n, maxCount: 1 }));
        const [start] = await collect(store.readAll({ maxCount: 1 }));
        expect(head?.id).toBe(start?.id);
      });

      it('includes the events of every stream when unfiltered', async () => {
        const { stream } = uniqueNames('unfiltered');
        const before = await store.appendToStream(stream('start'), [newEvent('A')], { expectedRevision: ExpectedRevision.any });
        const x = newEvent('X');
        const y = newEvent('Y');
        await appendAll(stream('x'), [x]);
        await appendAll(stream('y'), [y]);
        const read = await collect(store.readAll({ afterPosition: before.position }));
        const ours = read.filter((e) => e.id === x.id || e.id === y.id);
        expect(ids(ours)).toEqual([x.id, y.id]);
        expectStrictlyIncreasing(read.map((e) => e.position));
      });

      it('stops after maxCount events', async () => {
        const { stream, prefix } = uniqueNames('max');
        const events = newEvents('A', 5);
        const start = await appendAll(stream('0'), [newEvent('Start')]);
        await appendAll(stream('a'), events);
        const read = await collect(
          store.readAll({ afterPosition: start.position, maxCount: 3, filter: { streamPrefixes: [prefix] } }),
        );
        expect(ids(read)).toEqual(ids(events.slice(0, 3)));
      });

      it('filters by stream prefix, by event type, and by both', async () => {
        const { stream, prefix, type } = uniqueNames('filter');
        const start = await appendAll(stream('start'), [newEvent('Start')]);
        const enrolled = type('Enrolled');
        const revoked = type('Revoked');
        const nodeEnrolled = newEvent(enrolled);
        const credEnrolled = newEvent(enrolled);
        const nodeRevoked = newEvent(revoked);
        const credRevoked = newEvent(revoked);
        const nodeOther = newEvent(type('Other'));
        await appendAll(stream('node-1'), [nodeEnrolled]);
        await appendAll(stream('credential-1'), [credEnrolled]);
        await appendAll(stream('node-2'), [nodeRevoked, nodeOther]);
        await appendAll(stream('credential-2'), [credRevoked]);
        const read = (filter: { streamPrefixes?: string[]; eventTypes?: string[] }) =>
          collect(store.readAll({ afterPosition: start.position, filter })).then(ids);

        expect(await read({ streamPrefixes: [stream('node-')] })).toEqual(ids([nodeEnrolled, nodeRevoked, nodeOther]));
        expect(await read({ streamPrefixes: [stream('node-'), stream('credential-2')] })).toEqual(
          ids([nodeEnrolled, nodeRevoked, nodeOther, credRevoked]),
        );
        expect(await read({ eventTypes: [revoked] })).toEqual(ids([nodeRevoked, credRevoked]));
        expect(await read({ eventTypes: [enrolled, revoked] })).toEqual(
          ids([nodeEnrolled, credEnrolled, nodeRevoked, credRevoked]),
        );
        expect(await read({ streamPrefixes: [stream('credential-')], eventTypes: [enrolled, revoked] })).toEqual(
          ids([credEnrolled, credRevoked]),
        );
        expect(await read({ streamPrefixes: [stream('node-')], eventTypes: [revoked] })).toEqual(ids([nodeRevoked]));
        expect(await read({ streamPrefixes: [`${prefix}nobody`], eventTypes: [revoked] })).toEqual([]);
      });
    });

    describe('subscribeToAll', () => {
      it('catches up on stored events then delivers new ones live, in order, without duplicates', async () => {
        const { stream, prefix } = uniqueNames('live');
        const stored = [...newEvents('A', 3)];
        await appendAll(stream('a'), stored.slice(0, 2));
        await appendAll(stream('b'), stored.slice(2));
        const subscription = store.subscribeToAll({ from: { kind: 'start' }, filter: { streamPrefixes: [prefix] } });
        const iterator = subscription[Symbol.asyncIterator]();
        try {
          const caughtUp = await take(iterator, 3);
          const live = newEvents('Live', 2);
          await appendAll(stream('a'), live.slice(0, 1));
          await appendAll(stream('c'), live.slice(1));
          const delivered = [...caughtUp, ...(await take(iterator, 2))];
          expect(ids(delivered)).toEqual(ids([...stored, ...live]));
          expectStrictlyIncreasing(delivered.map((e) => e.position));
          // Nothing else may come before the sentinel: that would be a duplicate or a stray event.
          const sentinel = newEvent('Sentinel');
          await appendAll(stream('d'), [sentinel]);
          expect(ids(await take(iterator, 1))).toEqual([sentinel.id]);
        } finally {
          await subscription.unsubscribe();
        }
      });

      it('from the end delivers only events appended after subscribing', async () => {
        const { stream, prefix } = uniqueNames('end');
        const old = newEvents('Old', 2);
        await appendAll(stream('a'), old);
        const subscription = store.subscribeToAll({ from: { kind: 'end' }, filter: { streamPrefixes: [prefix] } });
        const iterator = subscription[Symbol.asyncIterator]();
        try {
          // A server may start a subscription asynchronously, so keep appending markers until the first arrives;
          // whatever arrives must be a marker, never an old event, and then everything in order.
          const markers: string[] = [];
          const pending = iterator.next();
          let first: IteratorResult<RecordedEvent> | undefined;
          void pending.then((r) => (first = r));
          while (first === undefined && markers.length < 100) {
            const marker = newEvent('Marker');
            markers.push(marker.id);
            await appendAll(stream('b'), [marker]);
            await new Promise((resolve) => setTimeout(resolve, markers.length < 3 ? 0 : 100));
          }
          const firstResult = await pending;
          expect(firstResult.done).toBe(false);
          const firstId = (firstResult.value as RecordedEvent).id;
          expect(markers).toContain(firstId);
          const rest = markers.slice(markers.indexOf(firstId) + 1);
          const tail = newEvent('Tail');
          await appendAll(stream('c'), [tail]);
          expect(ids(await take(iterator, rest.length + 1))).toEqual([...rest, tail.id]);
        } finally {
          await subscription.unsubscribe();
        }
      });

      it('after a position starts strictly after it', async () => {
        const { stream, prefix } = uniqueNames('after');
        const events = newEvents('A', 3);
        await appendAll(stream('a'), events);
        const [first] = await store.readStream(stream('a'));
        const subscription = store.subscribeToAll({
          from: { kind: 'after', position: first!.position },
          filter: { streamPrefixes: [prefix] },
        });
        try {
          expect(ids(await take(subscription[Symbol.asyncIterator](), 2))).toEqual(ids(events.slice(1)));
        } finally {
          await subscription.unsubscribe();
        }
      });

      it('filters a subscription by event type', async () => {
        const { stream, type } = uniqueNames('subtype');
        const start = await appendAll(stream('start'), [newEvent('Start')]);
        const wanted = newEvent(type('Wanted'));
        const subscription = store.subscribeToAll({
          from: { kind: 'after', position: start.position },
          filter: { eventTypes: [type('Wanted')] },
        });
        try {
          await appendAll(stream('a'), [newEvent(type('Unwanted')), wanted]);
          expect(ids(await take(subscription[Symbol.asyncIterator](), 1))).toEqual([wanted.id]);
        } finally {
          await subscription.unsubscribe();
        }
      });

      it('unsubscribe resolves a pending next() as done and ends a for-await loop', async () => {
        const { stream, prefix } = uniqueNames('unsub');
        const waiting = store.subscribeToAll({ from: { kind: 'end' }, filter: { streamPrefixes: [prefix] } });
        const iterator = waiting[Symbol.asyncIterator]();
        const pending = iterator.next();
        await waiting.unsubscribe();
        expect(await nextWithin({ next: () => pending }, 'the end of the iteration')).toEqual({ done: true, value: undefined });
        expect((await iterator.next()).done).toBe(true);

        await appendAll(stream('a'), newEvents('A', 4));
        const looping = store.subscribeToAll({ from: { kind: 'start' }, filter: { streamPrefixes: [prefix] } });
        const seen: string[] = [];
        for await (const event of looping) {
          seen.push(event.id);
          if (seen.length === 2) await looping.unsubscribe();
        }
        expect(seen.length).toBe(2);
      });
    });

    describe('fidelity', () => {
      it('preserves event ids, types and JSON data and metadata through every read path', async () => {
        const { stream, prefix } = uniqueNames('json');
        const data: JsonObject = {
          text: 'Zählerstand ✓ 電力メーター 😀 مرحبا e\u0301',
          escapes: 'quote " backslash \\ newline \n tab \t nul \u0000 line-sep \u2028',
          numbers: [0, -1, 9007199254740991, 0.1, -2.5e-7, 1e21],
          flags: { yes: true, no: false, nothing: null },
          nested: { deeper: { list: [{ a: [] }, {}, [1, [2, [3]]]], 'key with.dots and ü': 'v' } },
          empty: '',
        };
        const metadata: JsonObject = { actor: 'operator-ä', correlation: { id: 'c-1', chain: ['x', 'y'] }, schema: 2 };
        const event = newEvent('Recorded.v2', data, metadata);
        const start = await appendAll(stream('start'), [newEvent('Start')]);
        const subscription = store.subscribeToAll({
          from: { kind: 'after', position: start.position },
          filter: { streamPrefixes: [stream('j')] },
        });
        try {
          await appendAll(stream('j'), [event]);
          const fromStream = (await store.readStream(stream('j')))[0];
          const fromAll = (await collect(store.readAll({ afterPosition: start.position, filter: { streamPrefixes: [prefix] } })))[0];
          const fromSubscription = (await take(subscription[Symbol.asyncIterator](), 1))[0];
          for (const read of [fromStream, fromAll, fromSubscription]) {
            expect(read).toEqual({ ...event, streamId: stream('j'), revision: 0n, position: fromStream!.position });
          }
        } finally {
          await subscription.unsubscribe();
        }
      });
    });
  });
}
