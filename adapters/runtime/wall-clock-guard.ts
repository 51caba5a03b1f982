/**
 * How far the wall clock may move ahead of the monotonic clock between two expiry ticks before expiries are held
 * (review 221). Ten minutes: far past what keeping time moves it by (NTP slews at most 500 ppm, 0.3 s in ten minutes;
 * ntpd and chrony step a clock a few seconds off, or a few minutes after a boot or a VM restored), yet far short of
 * the hours to years a clock set wrong by hand, a bad RTC battery or a rogue time source jumps it by. Past it, one
 * tick expired every subscription, credential and association the jump passed, their keys destroyed for good.
 */
export const WALL_CLOCK_AHEAD_TOLERANCE_MS = 10 * 60_000;

/** One reading of both clocks, in ms: the wall clock's epoch time and the monotonic clock's. */
interface ClockPair {
  readonly wall: number;
  readonly monotonic: number;
}

/** An expiry tick held: the wall clock ran ahead of the time elapsed since the reference reading. */
export class WallClockAhead extends Error {
  /**
   * @param aheadMs how far the wall clock moved past the monotonic time elapsed since `reference`
   * @param reference the wall clock's time at the last tick the two clocks agreed (or the first tick)
   * @param repeated the hold was already said at an earlier tick of the same run: not logged again
   */
  constructor(
    readonly aheadMs: number,
    readonly reference: Date,
    readonly repeated: boolean,
  ) {
    super(
      `the wall clock is ${Math.round(aheadMs / 1000)} s ahead of the time elapsed since ${reference.toISOString()}: expiries are held, none is issued. ` +
        'If the clock is wrong, correct it: the hold ends by itself once the wall clock agrees again with the time elapsed. ' +
        'If it is right (it had been behind, or the host was suspended), restart the service to accept it.',
    );
    this.name = 'WallClockAhead';
  }
}

/**
 * Whether the wall clock may be trusted for the next expiry tick: it compares how far the wall clock moved since a
 * reference reading with how far the monotonic clock (which no one steps) moved. Within the tolerance either way the
 * tick runs and the reference moves to now, so slow drift never adds up to a hold. Stepped back by more, the tick runs
 * (expiries then fire late, never early) and the reference is kept, so that stepping the clock forward to the right
 * time again is no jump. Ahead by more, the tick is held and the reference kept, so that correcting the clock ends the
 * hold; only a restart (a new reference) accepts the jump.
 */
export class WallClockGuard {
  #reference: ClockPair | undefined;
  #holding = false;

  constructor(
    private readonly wallNow: () => number,
    private readonly monotonicNow: () => number,
    private readonly toleranceMs: number = WALL_CLOCK_AHEAD_TOLERANCE_MS,
  ) {}

  /** Undefined when the tick may run (the reference then moves to now); otherwise why it is held. */
  check(): WallClockAhead | undefined {
    const now: ClockPair = { wall: this.wallNow(), monotonic: this.monotonicNow() };
    const reference = this.#reference;
    const aheadMs = reference === undefined ? 0 : now.wall - reference.wall - (now.monotonic - reference.monotonic);
    if (reference !== undefined && aheadMs > this.toleranceMs) {
      const repeated = this.#holding;
      this.#holding = true;
      return new WallClockAhead(aheadMs, new Date(reference.wall), repeated);
    }
    if (reference === undefined || aheadMs >= -this.toleranceMs) this.#reference = now;
    this.#holding = false;
    return undefined;
  }
}
