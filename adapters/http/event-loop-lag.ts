import { monitorEventLoopDelay } from 'node:perf_hooks';

/** How often Node's monitor looks at the loop, ms: each of its readings is this plus the loop's delay. */
const RESOLUTION_MS = 10;

/** The event loop's lag, read once per sample interval (see `watchEventLoopLag`). */
export interface EventLoopLag {
  /** The lag of the last sample, ms: 0 before the first, never Infinity or NaN. */
  readonly lagMs: number;
  /** Whether it still samples: its monitor enabled and its timer pending (false once stopped). */
  readonly sampling: boolean;
  /** Whether its timer keeps the process alive: never, it is unref'd. */
  readonly holdsTheProcessOpen: boolean;
  /** Stops sampling: the monitor disabled, the timer cleared; `lagMs` keeps its last reading. */
  stop(): void;
}

/**
 * Reads the event loop's lag each `sampleIntervalMs` from Node's own delay monitor, the mean of its readings in the
 * interval less its resolution, or, when it holds none, how late the sampling timer itself fired. @fastify/under-pressure reads
 * a sample whose histogram holds no reading (NaN mean) as a lag of Infinity: at a short interval most samples of an
 * idle loop hold none, and an idle service refused most requests (review 309). No reading is no lag when the timer
 * fired on time; a loop blocked for the whole interval also leaves the histogram empty, and the timer's lateness
 * measures that block.
 */
export const watchEventLoopLag = (sampleIntervalMs: number): EventLoopLag => {
  if (!Number.isFinite(sampleIntervalMs) || sampleIntervalMs <= 0) {
    throw new RangeError(`sampleIntervalMs must be a positive number of ms, got ${sampleIntervalMs}`);
  }
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  let lagMs = 0;
  let due = performance.now() + sampleIntervalMs;
  const sample = (): void => {
    const now = performance.now();
    const late = Math.max(0, now - due);
    // The timer's lateness stands in only for a sample without readings (the loop blocked for the whole interval): a
    // block the monitor read is in its mean already, and its lateness alone, kept for the next whole interval, shed
    // a minute of requests at a 60 s interval for one 2 s stall across the due time (review 315).
    lagMs = histogram.count > 0 ? Math.max(0, histogram.mean / 1e6 - RESOLUTION_MS) : late;
    histogram.reset();
    due = now + sampleIntervalMs;
    timer?.refresh();
  };
  let timer: NodeJS.Timeout | undefined = setTimeout(sample, sampleIntervalMs).unref();
  return {
    get lagMs() {
      return lagMs;
    },
    get sampling() {
      return timer !== undefined;
    },
    get holdsTheProcessOpen() {
      return timer?.hasRef() ?? false;
    },
    stop() {
      if (timer === undefined) return;
      clearTimeout(timer);
      timer = undefined;
      histogram.disable();
    },
  };
};
