import type { ProjectionLag } from '../../projections/runtime/index.ts';

/** One component that follows the store (a projection, the cascade, the transparency log, ...). */
export interface ComponentStatus {
  readonly name: string;
  /** Last global position handled, undefined before the first. */
  readonly checkpoint: string | undefined;
  readonly head: string | undefined;
  readonly eventsBehind: number;
  readonly secondsBehind: number;
  /** Set when `eventsBehind` is a count stopped at its limit (live-lag.ts lagOf): the lag is at least that. */
  readonly eventsBehindAtLeast?: true;
  /** Set when the component stopped on an error it could not get past. */
  readonly error?: string;
}

/** A live component and since when it has been failing. */
export interface ComponentFailing {
  readonly name: string;
  /**
   * How long its current run of failed attempts has lasted (ms, timed on the monotonic clock: a wall clock stepped
   * back or forward changes nothing); undefined once an attempt went through. What a bound is checked against.
   */
  readonly forMs: number | undefined;
  /** When that run began (epoch ms, for people): now on the wall clock less `forMs`, read when asked. */
  readonly since: number | undefined;
}

export interface LiveOptions {
  /** How often the expiry scheduler, pseudonym rotation and the shredder's retries run on the wall clock (default 1000 ms). */
  readonly tickMs?: number;
  /** How often a transparency checkpoint is signed over new leaves (default 10 000 ms, as TransparencyProjection). */
  readonly checkpointEveryMs?: number;
  /**
   * A component's next pass starts no sooner than this after its previous one began (default 5 ms): under load a
   * pass handles the events of a few ms in one transaction, rather than one event each. The first event after a
   * quiet spell is handled at once, and a component idle for this long waits for nothing.
   */
  readonly coalesceMs?: number;
  readonly onError?: (component: string, error: unknown) => void;
  /**
   * Read models' lags counted after the runtime was made and before it starts (the service's rebuild warnings,
   * adapters/http/read-model-rebuilds.ts): the start's count takes each as it is when nothing was appended since,
   * rather than reading up to LAG_COUNT_LIMIT events of the log again.
   */
  readonly counted?: () => readonly ProjectionLag[];
  /**
   * The monotonic clock (ms) the expiry ticks check the engine's clock against (default `performance.now()`): a wall
   * clock that ran ahead of it by more than wallClockAllowanceMs allows (the tolerance and a drift rate since the
   * first tick; wall-clock-guard.ts) holds them. A caller
   * whose engine clock is a FakeClock it advances (tests) passes one that advances with it.
   */
  readonly monotonicNow?: () => number;
}

/**
 * Everything a running service keeps moving without a caller: the projections and the cascade process manager
 * following the store, the expiry scheduler and pseudonym rotation on the wall clock, the transparency log and
 * its checkpoints.
 */
export interface LiveRuntime {
  /** Catches up, then follows live; resolves once following. */
  start(): Promise<void>;
  /** Stops following and timers, waits for handlers in flight, flushes checkpoints (a signed transparency checkpoint). */
  stop(): Promise<void>;
  status(): Promise<readonly ComponentStatus[]>;
  /**
   * Each component and how long its current run of failed attempts has lasted (undefined: its last attempt went
   * through). Kept in memory, no read of the store: /metrics and /readyz say it during a store outage too.
   * Optional for a stand-in runtime (tests); the live runtime has it.
   */
  failing?(): readonly ComponentFailing[];
  /**
   * The largest lag over all components, or over those named, cheap (kept current while following); with
   * `eventsBehindAtLeast` when a component's count stopped at its limit and the largest is at least `eventsBehind`.
   */
  lag(components?: readonly string[]): { readonly eventsBehind: number; readonly eventsBehindAtLeast?: true; readonly secondsBehind: number };
  /**
   * Resolves true once every component (or every one named: those an answer reads) has handled `position`, or false
   * after `timeoutMs`.
   */
  caughtUp(position: bigint, timeoutMs?: number, components?: readonly string[]): Promise<boolean>;
}
