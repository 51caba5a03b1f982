import { firstValueFrom, take, timeout, TimeoutError, toArray, type Observable } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hmacSha256 } from '../domain/crypto/index.ts';
import { FakeClock, isCredenceError, lifecycleEvents$, openCredence, publicEvents$, type Credence } from '../adapters/runtime/index.ts';
import type { PseudonymKey } from '../projections/pseudonyms/index.ts';
import { T0, cmd } from './support/fleet.ts';

/*
 * Review 206 finding 2: the library's `publicEvents$` and `lifecycleEvents$` took a start position past the store's
 * head without a word, where GET /v1/events refuses it (409 resume_point_not_in_log). The stream then skipped every
 * event up to that position, and the public one folded identities only to the head: after a rotation it never folded,
 * it published a node's old pseudonym next to its new one (linking its epochs, SER-011). Now both refuse it when
 * subscribed, with the route's code and words; a position in the log, the head included, is resumed after.
 */

const key: PseudonymKey = { prf: async (m) => hmacSha256(new Uint8Array(32).fill(0x44), m) };

let c: Credence;
beforeEach(async () => {
  c = openCredence({ location: { memory: true }, clock: new FakeClock(T0), pseudonyms: { key, policy: { default: { onAssociation: true } } } });
  for (const step of [cmd.createSubscription('sub-01'), cmd.registerNode('meter-01'), cmd.enrolNode('meter-01', 'sub-01')]) {
    await c.engine.execute(step);
    await c.settle();
  }
});
afterEach(async () => {
  await c.close();
});

/** The first `count` events, or the stream's error; a stream that stays silent times out (a TimeoutError). */
const outcome = async <T>(events: Observable<T>, count = 1): Promise<{ readonly events?: T[]; readonly error?: unknown }> => {
  try {
    return { events: await firstValueFrom(events.pipe(take(count), toArray(), timeout(2_000))) };
  } catch (error) {
    return { error };
  }
};

const streams = (from: bigint): [string, Observable<unknown>][] => [
  ['events$ (openCredence)', c.events$({ from })],
  ['lifecycleEvents$', lifecycleEvents$(c.store, { from })],
  ['publicEvents$', publicEvents$(c.store, c.pseudonyms!.deriver, { from })],
];

describe('the library streams and a start past the head', () => {
  it('refuse it when subscribed: resume_point_not_in_log, naming the position and the head, as the HTTP route words it', async () => {
    const head = (await c.store.headPosition())!;
    const past = head + 3n;
    for (const [name, stream] of streams(past)) {
      const { error } = await outcome(stream);
      expect(isCredenceError(error, 'resume_point_not_in_log'), `${name}: ${String(error)}`).toBe(true);
      if (!isCredenceError(error) || error.problem.code !== 'resume_point_not_in_log') continue;
      expect(error.problem).toMatchObject({ resumeAfter: past.toString(10), head: head.toString(10) });
      expect(error.message, name).toMatch(
        new RegExp(`^cannot resume after ${past}: this log's newest event is at ${head}, so it is no position of this log \\(a store restored from an older backup, or a position never handed out\\); `),
      );
    }
  });

  it('refuse any position but 0 on a log with no event yet', async () => {
    const empty = openCredence({ location: { memory: true }, clock: new FakeClock(T0) });
    try {
      const { error } = await outcome(empty.events$({ from: 1n }));
      expect(isCredenceError(error, 'resume_point_not_in_log')).toBe(true);
      expect((error as Error).message).toMatch(/^cannot resume after 1: this log holds no event, /);
      // 0 skips nothing: it waits for the first event.
      expect((await outcome(empty.events$({ from: 0n }))).error).toBeInstanceOf(TimeoutError);
    } finally {
      await empty.close();
    }
  });

  it('resume after a position in the log, the head included', async () => {
    const head = (await c.store.headPosition())!;
    for (const [name, stream] of streams(head - 1n)) {
      const { events, error } = await outcome(stream);
      expect(error, name).toBeUndefined();
      expect(events, name).toHaveLength(1);
    }
    // At the head: nothing yet, no refusal (the stream waits for the next event).
    for (const [name, stream] of streams(head)) expect((await outcome(stream)).error, name).toBeInstanceOf(TimeoutError);
  });
});
