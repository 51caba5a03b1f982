/**
 * Time limits the 6.x client does not set (review 55): its reads and subscriptions run with `deadline: Infinity`
 * (and override a caller's), and an append or a group's creation first awaits the server-features call, which has
 * no deadline at all. A server that accepts the connection and never answers (a stalled node, a proxy) held every
 * call for ever. Each limit here ends the wait with a transient EventStoreDbError naming the server and the limit, so a
 * CLI exits 3 (README, 'CLI exit codes') and a service answers 503 with reason `timeout` instead of hanging.
 */
import type { Readable } from 'node:stream';
import { EventStoreDbError, type AppendOutcome } from './driver.ts';

/** The client's own default for `defaultDeadline` (ms), which the adapter applies to every call. */
export const DEFAULT_DEADLINE_MS = 10_000;

export interface Deadline {
  readonly ms: number;
  /** `host:port` of each node (or seed) of the connection string: never its user info. */
  readonly server: string;
}

/** The error for a call that got no answer in time; `appendOutcome`, for an append, what a caller should know of it. */
export function noAnswer(deadline: Deadline, operation: string, appendOutcome?: AppendOutcome, cause?: unknown): EventStoreDbError {
  // In ms, as the connection string gives it: the operator finds the number to raise as it is written there.
  return new EventStoreDbError(
    `EventStoreDB ${operation} failed: ${deadline.server} did not answer within ${deadline.ms} ms (defaultDeadline)`,
    true,
    { cause, unreachable: true, unavailable: { reason: 'timeout', limitMs: deadline.ms }, appendOutcome },
  );
}

/**
 * `work`, or the timeout's error when it has not settled within the deadline. The work is not cancelled (the client
 * gives no handle to do so): an append that times out may still be written, which is why it surfaces as transient.
 */
export function within<T>(work: Promise<T>, ms: number, timeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeout()), ms);
  });
  // The loser of the race settles later, unobserved: a rejection then must not reach the process.
  work.catch(() => undefined);
  return Promise.race([work, timedOut]).finally(() => clearTimeout(timer));
}

/**
 * Every message of a bounded read, failing with the timeout's error when the server stays silent for `ms` (before the
 * first message or between two): a long read of a live server goes on, a stalled one ends. The client's call is
 * cancelled then, so it holds no connection.
 */
export async function collectWithin<T>(
  read: Readable & { cancel(): Promise<void> },
  ms: number,
  timeout: () => Error,
  convert: (chunk: never) => T,
): Promise<T[]> {
  const out: T[] = [];
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      read.cancel().catch(() => undefined);
      read.destroy(timeout());
    }, ms);
  };
  arm();
  try {
    for await (const chunk of read) {
      out.push(convert(chunk as never));
      arm();
    }
    return out;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Fails a subscription with the timeout's error unless the server confirms it (or sends anything) within `ms`. Only
 * the first message is timed: a live subscription may then wait for events as long as there are none.
 */
export function confirmWithin(subscription: Readable, ms: number, timeout: () => Error): void {
  const timer = setTimeout(() => subscription.destroy(timeout()), ms);
  const answered = (): void => clearTimeout(timer);
  subscription.once('confirmation', answered);
  subscription.once('close', answered);
  subscription.once('error', answered);
}

/** Waits for `work` at most `ms`: a close must not hang on a call that never got going. */
export const settleWithin = (work: Promise<unknown>, ms: number): Promise<void> =>
  within(work, ms, () => new Error('timeout')).then(
    () => undefined,
    () => undefined,
  );
