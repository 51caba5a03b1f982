import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BEHIND_REFRESH_MS, MAX_BEHIND_REFRESH_MS, ReadAgainWhileBehind } from '../adapters/console/src/read-again.ts';

/*
 * Found in review: while the read models stayed behind, the console read its lists again every two seconds for as long
 * as the lag lasted, ignoring how long each refresh took. Now the wait doubles, up to a minute, and starts over once
 * the answers have caught up.
 */
describe('reading lagging answers again', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('backs off 2 s, 4 s, 8 s ... up to a minute while behind, and starts over once caught up', () => {
    const again = new ReadAgainWhileBehind();
    const at: number[] = [];
    const start = Date.now();
    let behind = true;
    const read = (): void => {
      at.push(Date.now() - start);
      again.after(behind, read);
    };
    again.after(true, read);
    vi.advanceTimersByTime(200_000);
    expect(at.slice(0, 7)).toEqual([2_000, 6_000, 14_000, 30_000, 62_000, 122_000, 182_000]);
    behind = false;
    vi.advanceTimersByTime(60_000);
    const stopped = at.length;
    vi.advanceTimersByTime(600_000);
    expect(at.length).toBe(stopped);
    again.after(true, read);
    vi.advanceTimersByTime(BEHIND_REFRESH_MS);
    expect(at.length).toBe(stopped + 1);
    again.reset();
    expect(MAX_BEHIND_REFRESH_MS).toBe(60_000);
  });

  it('starts its wait over when reset (another entity, another list: found in review, a minute carried over)', () => {
    const again = new ReadAgainWhileBehind();
    for (let i = 0; i < 5; i++) again.after(true, () => undefined);
    again.reset();
    const read = vi.fn();
    again.after(true, read);
    vi.advanceTimersByTime(BEHIND_REFRESH_MS);
    expect(read).toHaveBeenCalledTimes(1);
  });

  it('waits at least as long as the caller asks (the overview: four times its last refresh), and stops when told', () => {
    const again = new ReadAgainWhileBehind();
    const read = vi.fn();
    again.after(true, read, 10_000);
    vi.advanceTimersByTime(9_999);
    expect(read).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(read).toHaveBeenCalledTimes(1);
    again.after(true, read);
    again.reset();
    vi.advanceTimersByTime(120_000);
    expect(read).toHaveBeenCalledTimes(1);
  });
});
