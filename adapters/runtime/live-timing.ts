import type { LiveOptions } from './live-runtime.ts';

/** The live runtime's periods, checked: a tick, a checkpoint signature, a pass's coalescing wait. */
export interface LiveTimings {
  readonly tickMs: number;
  readonly checkpointEveryMs: number;
  readonly coalesceMs: number;
}

export const liveTimings = (options: LiveOptions): LiveTimings => {
  const tickMs = options.tickMs ?? 1000;
  const checkpointEveryMs = options.checkpointEveryMs ?? 10_000;
  const coalesceMs = options.coalesceMs ?? 5;
  if (!Number.isSafeInteger(tickMs) || tickMs < 1) throw new RangeError('options.tickMs: must be a whole number of ms >= 1');
  if (!Number.isSafeInteger(checkpointEveryMs) || checkpointEveryMs < 1) throw new RangeError('options.checkpointEveryMs: must be a whole number of ms >= 1');
  if (!Number.isSafeInteger(coalesceMs) || coalesceMs < 0) throw new RangeError('options.coalesceMs: must be a whole number of ms >= 0');
  return { tickMs, checkpointEveryMs, coalesceMs };
};

/** Retries a failing component after 0.25 s, doubling up to 30 s: a store outage is not hammered. */
export const backoffMs = (failures: number): number => Math.min(30_000, 250 * 2 ** Math.min(failures - 1, 7));

/**
 * How long a live component's statement waits for another process's write lock on readmodels.db or transparency.db
 * (a CLI export, an operator's sqlite3) before its pass fails and is retried with the back-off above. SQLite waits on
 * the thread that runs the statement: with the 5 s a CLI waits, each attempt held every request of the service.
 */
export const LOCK_WAIT_MS = 50;

/** A wait for the subscription's next event this long means it had read everything and waited for an append. */
export const WAITED_MS = 0.5;

/** Waits `ms`, or less when `signal` aborts. */
export const pause = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    timer.unref();
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
