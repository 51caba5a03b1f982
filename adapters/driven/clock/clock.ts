import type { Clock } from '../../../domain/ports/clock.ts';

export const systemClock: Clock = { now: () => new Date() };

/** Whether `ms` is a time a Date can hold: not NaN, and within ±8.64e15 ms of the epoch. */
const validTime = (ms: number): boolean => !Number.isNaN(new Date(ms).getTime());

/** A clock tests and demos drive by hand across lifetime boundaries. */
export class FakeClock implements Clock {
  #ms: number;
  constructor(start: Date | string = '2026-01-01T00:00:00.000Z') {
    this.#ms = new Date(start).getTime();
    if (Number.isNaN(this.#ms)) throw new TypeError(`FakeClock: start is not a date: ${String(start)}`);
  }
  now(): Date {
    return new Date(this.#ms);
  }
  advance(ms: number): Date {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`FakeClock.advance: ms must be >= 0, got ${ms}`);
    // A Date holds ±8.64e15 ms (ECMA-262 21.4.1.1); past it `now()` would answer Invalid Date to every reader.
    if (!validTime(this.#ms + ms)) throw new RangeError(`FakeClock.advance: ms ${ms} takes the clock past the last valid date`);
    this.#ms += ms;
    return this.now();
  }
  set(to: Date | string): Date {
    const ms = new Date(to).getTime();
    // NaN passes the `<` below (every comparison with NaN is false), so an invalid date is refused first.
    if (!validTime(ms)) throw new RangeError(`FakeClock.set: to is not a valid date: ${String(to)}`);
    if (ms < this.#ms) throw new RangeError('FakeClock.set: time does not go backwards');
    this.#ms = ms;
    return this.now();
  }
}

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
