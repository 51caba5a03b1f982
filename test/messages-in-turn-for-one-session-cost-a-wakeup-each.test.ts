/**
 * Review 304 (low): MessagesInTurn woke every waiting message of a session each time a turn ended, so N auths at once
 * for one session id (any made-up one) cost ~N²/2 wakeups: 8,000 took 2.4 s of the event loop. Each message now
 * waits on the one before it alone (a per-session tail), in the same order, and the session's entry goes with the last.
 */
import { describe, expect, it } from 'vitest';
import { MessagesInTurn } from '../adapters/protocols/enrolment/messages-in-turn.ts';

/**
 * A promise that counts the reactions registered on it and on those derived from it (`then` makes its own kind):
 * every wait on a judged message, or on a turn made of one, is such a registration, so the count is the wakeups.
 */
class CountingPromise<T> extends Promise<T> {
  static registrations = 0;

  override then<A = T, B = never>(
    onFulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    CountingPromise.registrations++;
    return super.then(onFulfilled, onRejected);
  }
}

const judged = <T>(value: T): Promise<T> => new CountingPromise<T>((resolve) => resolve(value));
const refused = (reason: Error): Promise<never> => new CountingPromise<never>((_, reject) => reject(reason));

describe('messages in turn for one session', () => {
  it('8,000 at once are judged in arrival order with a bounded number of wakeups each, and leave no entry', async () => {
    const turns = new MessagesInTurn();
    const n = 8_000;
    const order: number[] = [];
    CountingPromise.registrations = 0;
    const answers = Array.from({ length: n }, (_, i) =>
      turns.inTurn('made-up-session', () => {
        order.push(i);
        return i % 3 === 1 ? refused(new Error(`junk ${i}`)) : judged(i);
      }),
    );
    const settled = await Promise.allSettled(answers);
    expect(order).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(settled.filter((s) => s.status === 'rejected')).toHaveLength(Math.floor((n + 1) / 3));
    // A constant per message; waking every waiter at each turn's end was ~n²/2 (32 million here).
    expect(CountingPromise.registrations).toBeLessThan(10 * n);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(turns.sessions).toBe(0);
  }, 120_000);

  it('the first message of a session is judged at once, the next once it settled, another session\'s without waiting', async () => {
    const turns = new MessagesInTurn();
    let release: () => void = () => undefined;
    const slow = turns.inTurn('a', () => new Promise<string>((resolve) => (release = () => resolve('a'))));
    let next = false;
    const behind = turns.inTurn('a', async () => {
      next = true;
      return 'a2';
    });
    let started = false;
    const other = turns.inTurn('b', async () => {
      started = true;
      return 'b';
    });
    expect(started).toBe(true);
    await expect(other).resolves.toBe('b');
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(next).toBe(false);
    expect(turns.sessions).toBe(1);
    release();
    await expect(slow).resolves.toBe('a');
    await expect(behind).resolves.toBe('a2');
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(turns.sessions).toBe(0);
  });
});
