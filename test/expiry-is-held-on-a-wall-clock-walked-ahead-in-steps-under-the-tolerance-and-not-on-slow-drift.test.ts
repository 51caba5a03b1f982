/**
 * Review 222: the wall-clock guard of the live expiry ticks (review 221) took each tick within the 10-minute tolerance
 * as its new reference, so a clock walked ahead in steps each under it was never held: 60 steps of 9 minutes moved it
 * 9 hours (ntpd takes steps under its 1000 s panic threshold, so a spoofed time source could walk it a year ahead).
 * The guard now compares with a fixed anchor taken at the first tick, allowing the tolerance plus 1000 ppm of the
 * monotonic time elapsed since: a walk is held once its steps add up past that, and slow drift never is.
 */
import { describe, expect, it } from 'vitest';
import { WALL_CLOCK_AHEAD_TOLERANCE_MS, WallClockGuard } from '../adapters/runtime/wall-clock-guard.ts';

const SECOND = 1_000;
const MINUTE = 60_000;
const DAY = 86_400_000;
/** The drift rate the guard must allow, at least, and may allow at most: a time source faster than this is a walk. */
const PPM = 1e-6;

/** A wall clock and a monotonic clock read by a guard, both moved by hand. */
const clocks = () => {
  let wall = Date.parse('2026-01-01T00:00:00.000Z');
  let monotonic = 1_000;
  const guard = new WallClockGuard(() => wall, () => monotonic);
  return {
    guard,
    /** Time passes: both clocks move, the wall clock at `rate` parts per one (1 + rate times as fast). */
    elapse: (ms: number, rate = 0) => {
      wall += ms * (1 + rate);
      monotonic += ms;
    },
    /** The wall clock alone is stepped. */
    step: (ms: number) => {
      wall += ms;
    },
  };
};

describe('the expiry ticks\' wall-clock guard, against a fixed anchor', () => {
  it('holds a clock walked ahead in 9-minute steps from the step that takes it past the allowance on, and says so once', () => {
    const c = clocks();
    // Given a first tick (the anchor)
    expect(c.guard.check()).toBeUndefined();
    const held: boolean[] = [];
    const said: number[] = [];
    // When a time source steps the clock 9 minutes ahead at each of 60 polls 17 minutes apart (ntpd's 1024 s), a tick a minute
    for (let poll = 1; poll <= 60; poll++) {
      c.step(9 * MINUTE);
      let heldThisPoll = false;
      for (let minute = 0; minute < 17; minute++) {
        const h = c.guard.check();
        heldThisPoll ||= h !== undefined;
        if (h !== undefined && !h.repeated) said.push(poll);
        c.elapse(MINUTE);
      }
      held.push(heldThisPoll);
    }
    // Then the first step (within the tolerance) is let through, and from the second on every tick is held
    expect(held[0]).toBe(false);
    expect(held.slice(1).every(Boolean)).toBe(true);
    // And the hold is said once, when it begins
    expect(said).toEqual([2]);
  });

  it('lets 100 ppm of drift through over 200 days, ahead or behind, ticking every 10 minutes', () => {
    for (const rate of [100 * PPM, -100 * PPM]) {
      const c = clocks();
      const holds: number[] = [];
      for (let t = 0; t <= 200 * DAY; t += 10 * MINUTE) {
        if (c.guard.check() !== undefined) holds.push(t);
        c.elapse(10 * MINUTE, rate);
      }
      // Then nothing is held, though the drift (1728 s) has long passed the 10-minute tolerance
      expect(holds, `rate ${rate / PPM} ppm`).toEqual([]);
    }
  });

  it('holds a clock run ahead at 2000 ppm, past the allowed rate, within days', () => {
    const c = clocks();
    let firstHeld: number | undefined;
    for (let t = 0; t <= 30 * DAY && firstHeld === undefined; t += 10 * MINUTE) {
      if (c.guard.check() !== undefined) firstHeld = t;
      c.elapse(10 * MINUTE, 2000 * PPM);
    }
    // 600 s of tolerance over 1000 ppm of excess: held after about 7 days, not sooner
    expect(firstHeld).toBeGreaterThan(6 * DAY);
    expect(firstHeld).toBeLessThan(8 * DAY);
  });

  it('holds nothing for a clock stepped back, nor for it stepped forward to the right time again, and holds one stepped past it', () => {
    const c = clocks();
    expect(c.guard.check()).toBeUndefined();
    c.elapse(3 * DAY);
    // Given the clock stepped back a day, ticks running on it for an hour
    c.step(-DAY);
    for (let minute = 0; minute < 60; minute++, c.elapse(MINUTE)) expect(c.guard.check()).toBeUndefined();
    // When it is stepped forward to the right time again: no jump
    c.step(DAY);
    expect(c.guard.check()).toBeUndefined();
    // When it is stepped a little further than the allowance (10 minutes plus 1 ms a second elapsed): held, once said
    const allowed = WALL_CLOCK_AHEAD_TOLERANCE_MS + (3 * DAY + 60 * MINUTE) / 1000;
    c.step(allowed + SECOND);
    const held = c.guard.check();
    expect(held).toMatchObject({ repeated: false, reference: new Date('2026-01-01T00:00:00.000Z') });
    expect(Math.round(held!.aheadMs)).toBe(allowed + SECOND);
    expect(c.guard.check()?.repeated).toBe(true);
    // And once corrected, the hold ends by itself; a second jump is a new hold, said again
    c.step(-allowed - SECOND);
    expect(c.guard.check()).toBeUndefined();
    c.step(DAY);
    expect(c.guard.check()?.repeated).toBe(false);
  });

  it('takes the clock as it is at the first tick: one already wrong when the service starts is not seen (a restart accepts a jump)', () => {
    const c = clocks();
    // Given a wall clock a year ahead before the first tick (a bad RTC at boot, or a jump accepted by a restart)
    c.step(365 * DAY);
    // Then it is the anchor, and nothing is held while it keeps time from there
    expect(c.guard.check()).toBeUndefined();
    c.elapse(DAY);
    expect(c.guard.check()).toBeUndefined();
  });
});
