/**
 * Review 26 (Low): FakeClock.set and advance could leave the clock on an invalid date: `set('not a date')` (NaN
 * passed the "does not go backwards" check, every comparison with NaN being false) and `advance(1e300)` (past the
 * ±8.64e15 ms a Date holds). Every reader then got Invalid Date. Both refuse, naming the argument, and the clock
 * keeps its time.
 */
import { describe, expect, it } from 'vitest';
import { DAY, FakeClock } from '../adapters/driven/clock/index.ts';

const T0 = '2026-01-01T00:00:00.000Z';
const LAST_DATE_MS = 8.64e15;

describe('FakeClock refuses to move to an invalid date (review 26)', () => {
  it('set refuses what is not a date, naming `to`, and keeps its time', () => {
    const clock = new FakeClock(T0);
    for (const to of ['not a date', new Date(Number.NaN), '+275760-09-13T00:00:00.001Z']) {
      expect(() => clock.set(to)).toThrow(RangeError);
      expect(() => clock.set(to)).toThrow(/FakeClock\.set: to is not a valid date/);
      expect(clock.now().toISOString()).toBe(T0);
    }
  });

  it('advance refuses to go past the last date a Date holds, naming `ms`, and keeps its time', () => {
    const clock = new FakeClock(T0);
    for (const ms of [1e300, LAST_DATE_MS]) {
      expect(() => clock.advance(ms)).toThrow(RangeError);
      expect(() => clock.advance(ms)).toThrow(/FakeClock\.advance: ms /);
      expect(clock.now().toISOString()).toBe(T0);
    }
  });

  it('still moves to the last valid date, and still refuses to go backwards', () => {
    const clock = new FakeClock(T0);
    expect(clock.advance(DAY).toISOString()).toBe('2026-01-02T00:00:00.000Z');
    expect(() => clock.set(T0)).toThrow(/does not go backwards/);
    expect(() => clock.advance(-1)).toThrow(/ms must be >= 0/);
    expect(clock.advance(LAST_DATE_MS - clock.now().getTime()).getTime()).toBe(LAST_DATE_MS);
    expect(() => clock.advance(1)).toThrow(RangeError);
    expect(clock.now().getTime()).toBe(LAST_DATE_MS);
  });
});
