/**
 * How far the wall clock may be stepped ahead of the monotonic clock while the service runs before expiries are held
 * (review 221), on top of the drift allowed for the time since (WALL_CLOCK_DRIFT_PPM). Ten minutes: far past what
 * keeping time moves it by (ntpd and chrony step a clock a few seconds off; NTP's slewing moves the monotonic clock
 * with it), yet far short of the hours to years a clock set wrong by hand or a rogue time source jumps it by. Past it,
 * one tick expired every subscription, credential and association the jump passed, their keys destroyed for good.
 * What it covers is a clock stepped while the service runs: one already wrong when the service starts (a bad RTC at
 * boot, a clock not yet set) is the anchor the guard compares with, and is not seen (review 222).
 */
export const WALL_CLOCK_AHEAD_TOLERANCE_MS = 10 * 60_000;

/**
 * How fast, in parts per million of the monotonic time elapsed since the anchor, the wall clock may run ahead of it
 * without being held (review 222). On Linux NTP's frequency correction slews CLOCK_MONOTONIC as it does the wall
 * clock, so the two part only by steps; where the monotonic clock is not slewed they part by the oscillator's error,
 * which NTP corrects: a sane quartz is within 100 ppm, and ntpd gives up on one past 500 ppm (its frequency limit).
 * 1000 ppm is twice that limit, so drift never holds, and bounds a time source walking the clock ahead in steps each
 * under the tolerance to 86 s a day (under 9 hours a year) rather than a year in a day.
 */
export const WALL_CLOCK_DRIFT_PPM = 1000;

/** How far the wall clock may have run ahead of the monotonic clock `elapsedMs` after the anchor, in ms. */
export const wallClockAllowanceMs = (elapsedMs: number, toleranceMs: number = WALL_CLOCK_AHEAD_TOLERANCE_MS): number =>
  toleranceMs + (Math.max(0, elapsedMs) * WALL_CLOCK_DRIFT_PPM) / 1_000_000;

/** One reading of both clocks, in ms: the wall clock's epoch time and the monotonic clock's. */
interface ClockPair {
  readonly wall: number;
  readonly monotonic: number;
}

/** An expiry tick held: the wall clock ran ahead of the time elapsed since the anchor by more than is allowed. */
export class WallClockAhead extends Error {
  /**
   * @param aheadMs how far the wall clock moved past the monotonic time elapsed since `reference`
   * @param reference the wall clock's time at the anchor, the first tick of this run
   * @param repeated the hold was already said at an earlier tick of the same run: not logged again
   * @param allowedMs how far ahead it was allowed to be by now (wallClockAllowanceMs)
   */
  constructor(
    readonly aheadMs: number,
    readonly reference: Date,
    readonly repeated: boolean,
    readonly allowedMs: number,
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
 * Whether the wall clock may be trusted for the next expiry tick: it compares how far the wall clock moved since an
 * anchor reading, taken at the first tick, with how far the monotonic clock (which no one steps) moved, and allows the
 * tolerance plus the drift rate times the time elapsed. The anchor never moves while the service runs: a reference
 * moved to any reading the wall clock gave (as before review 222, at each tick within the tolerance) lets steps each
 * under the tolerance add up to any jump, and the monotonic time since the anchor is the only measure of time that
 * no time source can set. So a clock stepped back holds nothing (expiries come late, never early) and stepping it
 * forward to the right time again is no jump; ahead by more than allowed, ticks are held until the clock is corrected
 * (the hold ends by itself) or the service restarts (a new anchor accepts the clock as it is then).
 */
export class WallClockGuard {
  #anchor: ClockPair | undefined;
  #holding = false;

  constructor(
    private readonly wallNow: () => number,
    private readonly monotonicNow: () => number,
    private readonly toleranceMs: number = WALL_CLOCK_AHEAD_TOLERANCE_MS,
  ) {}

  /** Undefined when the tick may run; otherwise why it is held. */
  check(): WallClockAhead | undefined {
    const { anchor, aheadMs, allowedMs } = this.#reading();
    if (aheadMs > allowedMs) {
      const repeated = this.#holding;
      this.#holding = true;
      return new WallClockAhead(aheadMs, new Date(anchor.wall), repeated, allowedMs);
    }
    this.#holding = false;
    return undefined;
  }

  /**
   * The same verdict as `check`, for work that reads the wall clock beside the expiry lane (the CRLs' expired entries,
   * review 251), without telling a hold: only the expiry lane says it, once, when it begins.
   */
  trusts(): boolean {
    const { aheadMs, allowedMs } = this.#reading();
    return aheadMs <= allowedMs;
  }

  #reading(): { anchor: ClockPair; aheadMs: number; allowedMs: number } {
    const now: ClockPair = { wall: this.wallNow(), monotonic: this.monotonicNow() };
    const anchor = (this.#anchor ??= now);
    const elapsedMs = now.monotonic - anchor.monotonic;
    return { anchor, aheadMs: now.wall - anchor.wall - elapsedMs, allowedMs: wallClockAllowanceMs(elapsedMs, this.toleranceMs) };
  }
}

/**
 * The guard of the live runtime each Credence instance runs (live.ts), shared with what else judges time on the
 * service's clock: one anchor, one verdict (review 251: the CRL publisher dropped expired entries on a clock the
 * expiry lane held). Kept by the instance, not by the runtime: one started again later replaces it.
 */
const guards = new WeakMap<object, WallClockGuard>();

export const shareWallClockGuard = (instance: object, guard: WallClockGuard): void => {
  guards.set(instance, guard);
};

/**
 * Whether the live runtime of `instance` trusts the wall clock now. True when none was started on it (a library use,
 * a test driving the clock by hand): nothing then tells a step from time passing, as before the guard.
 */
export const wallClockTrustedFor = (instance: object): boolean => guards.get(instance)?.trusts() ?? true;
