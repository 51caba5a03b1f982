import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { prepareAppend } from '../adapters/driven/store/eventstoredb/append.ts';
import { isCredenceError } from '../domain/errors.ts';
import { ExpectedRevision, type AppendOptions, type EventToAppend } from '../domain/ports/index.ts';

/**
 * Review 184 L2: `expectedRevision` was not checked where the append is called, though every other argument is. A
 * number revision (`{ kind: 'exact', revision: 0 }`) was refused as a retryable conflict that contradicted itself
 * ("expected at revision 0 but is at revision 0"), and a missing one threw a raw TypeError from inside the group
 * commit. Both stores now refuse it at the call, with a plain error naming `options.expectedRevision`, storing nothing.
 */
const event = (): EventToAppend => ({ id: crypto.randomUUID(), type: 'Noted', data: { n: 1 }, metadata: { note: 'test' } });

const MALFORMED: readonly [string, unknown, RegExp][] = [
  ['a number revision', { kind: 'exact', revision: 0 }, /^options\.expectedRevision\.revision: must be a non-negative bigint/],
  ['a negative revision', { kind: 'exact', revision: -1n }, /^options\.expectedRevision\.revision: must be a non-negative bigint/],
  ['no expected revision', undefined, /^options\.expectedRevision: must be/],
  ['an unknown kind', { kind: 'latest' }, /^options\.expectedRevision\.kind: must be/],
];

const optionsWith = (expectedRevision: unknown): AppendOptions => ({ expectedRevision } as unknown as AppendOptions);

describe('an append whose expectedRevision is malformed', () => {
  it.each(MALFORMED)('is refused at the call by the embedded store (%s), storing nothing, its neighbours stored', async (_, expected, message) => {
    const store = openSqliteStore({ memory: true });
    await store.appendToStream('s-1', [event()], { expectedRevision: ExpectedRevision.noStream });
    // A neighbour submitted in the same turn of the event loop: the same group commit, were the bad one let in.
    const [refused, neighbour] = await Promise.allSettled([
      store.appendToStream('s-1', [event()], optionsWith(expected)),
      store.appendToStream('s-2', [event()], { expectedRevision: ExpectedRevision.noStream }),
    ]);
    expect(refused.status).toBe('rejected');
    const error = (refused as PromiseRejectedResult).reason as Error;
    expect(isCredenceError(error)).toBe(false);
    expect(error).not.toBeInstanceOf(TypeError);
    expect(error.message).toMatch(message);
    expect(neighbour.status).toBe('fulfilled');
    expect(await store.readStream('s-1')).toHaveLength(1);
    expect(await store.readStream('s-2')).toHaveLength(1);
    await store.close();
  });

  it.each(MALFORMED)('is refused before anything is sent by the EventStoreDB store (%s), in the same words', (_, expected, message) => {
    expect(() => prepareAppend('s-1', [event()], optionsWith(expected))).toThrow(message);
  });

  it('takes every well-formed expectation', async () => {
    const store = openSqliteStore({ memory: true });
    await store.appendToStream('s-1', [event()], { expectedRevision: ExpectedRevision.noStream });
    await store.appendToStream('s-1', [event()], { expectedRevision: ExpectedRevision.exact(0n) });
    await store.appendToStream('s-1', [event()], { expectedRevision: ExpectedRevision.any });
    expect(await store.readStream('s-1')).toHaveLength(3);
    for (const expected of [ExpectedRevision.noStream, ExpectedRevision.any, ExpectedRevision.exact(0n)]) {
      expect(() => prepareAppend('s-1', [event()], { expectedRevision: expected })).not.toThrow();
    }
    await store.close();
  });
});
