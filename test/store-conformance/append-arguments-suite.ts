import { describe, expect, it } from 'vitest';
import { ExpectedRevision, type EventStore, type EventToAppend, type JsonObject } from '../../domain/ports/index.ts';
import { collect, expectConflict, newEvent, take, uniqueNames } from './helpers.ts';

type Factory = () => Promise<{ store: EventStore; cleanup?: () => Promise<void> }>;

const noStream = { expectedRevision: ExpectedRevision.noStream };

/**
 * A direct caller of the port gets the same outcome from every store: the same refusals, with the same messages, as
 * rejected promises that wrote nothing (review: argument-check parity between SQLite and EventStoreDB).
 */
export function describeAppendArgumentConformance(store: () => EventStore, factory: Factory): void {
  describe('append arguments', () => {
    const refusals: [string, (stream: string, event: EventToAppend) => [string, EventToAppend[], string | undefined], RegExp][] = [
      ['array data', (s, e) => [s, [{ ...e, data: [1, 2] as unknown as JsonObject }], undefined], /^events\[0\]\.data: must be a JSON object/],
      ['an empty type', (s, e) => [s, [{ ...e, type: '' }], undefined], /^events\[0\]\.type: must be a non-empty string/],
      ['string metadata', (s, e) => [s, [{ ...e, metadata: 'm' as unknown as JsonObject }], undefined], /^events\[0\]\.metadata: must be a JSON object/],
      ['a lone surrogate in the stream id', (s, e) => [`${s}\uD800`, [e], undefined], /^streamId: must be well-formed Unicode/],
      ['a lone surrogate in an event id', (s, e) => [s, [{ ...e, id: `${e.id}\uDC00` }], undefined], /^events\[0\]\.id: must be well-formed Unicode/],
      ['a lone surrogate in the command id', (s, e) => [s, [e], 'c-\uD800'], /^options\.commandId: must be well-formed Unicode/],
      ['the same event id twice in one batch', (s, e) => [s, [e, { ...newEvent('B'), id: e.id }], undefined], /^events\[1\]\.id: event id .* is already stored/],
    ];
    for (const [what, build, message] of refusals) {
      it(`refuses ${what} with the argument named, and writes nothing`, async () => {
        const { stream } = uniqueNames('argument');
        const [streamId, events, commandId] = build(stream('a'), newEvent('A'));
        await expect(store().appendToStream(streamId, events, { ...noStream, commandId })).rejects.toThrow(message);
        expect(await store().readStream(stream('a'))).toEqual([]);
      });
    }

    it('rejects a value JSON cannot hold, writes nothing, and holds up no later append to the stream', async () => {
      const { stream } = uniqueNames('unserialisable');
      const bad = newEvent('A', { n: 1n } as unknown as JsonObject);
      await expect(store().appendToStream(stream('a'), [bad], noStream)).rejects.toThrow(TypeError);
      expect(await store().readStream(stream('a'))).toEqual([]);
      const next = await store().appendToStream(stream('a'), [newEvent('B')], noStream);
      expect(next.nextExpectedRevision).toBe(0n);
    });

    it('rejects an append to a closed store, without throwing at the call', async () => {
      const { store: closed, cleanup } = await factory();
      try {
        await closed.close();
        let attempt: Promise<unknown> | undefined;
        expect(() => (attempt = closed.appendToStream(uniqueNames('closed').stream('a'), [newEvent('A')], noStream))).not.toThrow();
        await expect(attempt).rejects.toThrow(/closed/);
      } finally {
        await cleanup?.();
      }
    });

    it('commits a decision that lists the same fact twice at the revision it read', async () => {
      const { stream } = uniqueNames('fact-twice');
      await store().appendToStream(stream('fact'), [newEvent('F')], noStream);
      const fact = { streamId: stream('fact'), revision: 0n };
      const result = await store().appendToStream(stream('d'), [newEvent('D')], { ...noStream, facts: [fact, { ...fact }] });
      expect(result.deduplicated).toBe(false);
      expect(await store().readStream(stream('d'))).toHaveLength(1);
    });

    it('refuses, writing nothing, a decision that lists one fact at two revisions', async () => {
      const { stream } = uniqueNames('fact-disagrees');
      await store().appendToStream(stream('fact'), [newEvent('F1'), newEvent('F2')], noStream);
      for (const [first, second] of [[0n, 1n], [1n, 0n]] as const) {
        const facts = [{ streamId: stream('fact'), revision: first }, { streamId: stream('fact'), revision: second }];
        await expectConflict(store().appendToStream(stream('d'), [newEvent('D')], { ...noStream, facts }), stream('fact'));
      }
      expect(await store().readStream(stream('d'))).toEqual([]);
      expect(await store().readStream(stream('fact'))).toHaveLength(2);
    });

    it('returns a $-typed event of a non-system stream on every read path', async () => {
      const { stream, prefix, type } = uniqueNames('dollar');
      const start = await store().appendToStream(stream('start'), [newEvent('Start')], noStream);
      const subscription = store().subscribeToAll({ from: { kind: 'after', position: start.position }, filter: { streamPrefixes: [stream('s')] } });
      try {
        const event = newEvent(type('$Custom'));
        await store().appendToStream(stream('s'), [event], noStream);
        const [fromStream] = await store().readStream(stream('s'));
        expect(fromStream).toMatchObject({ id: event.id, type: event.type });
        const unfiltered = (await collect(store().readAll({ afterPosition: start.position }))).filter((e) => e.streamId === stream('s'));
        const byPrefix = await collect(store().readAll({ afterPosition: start.position, filter: { streamPrefixes: [prefix] } }));
        const [live] = await take(subscription[Symbol.asyncIterator](), 1);
        expect(unfiltered).toEqual([fromStream]);
        expect(byPrefix.filter((e) => e.streamId === stream('s'))).toEqual([fromStream]);
        expect(live).toEqual(fromStream);
      } finally {
        await subscription.unsubscribe();
      }
    });
  });
}
