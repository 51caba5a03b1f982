import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CHECK_EVERY_MS, MAX_TIMER_MS, watchSession, type Visibility } from '../adapters/console/src/session-watch.ts';

/*
 * Review 58: on a console page with no event stream (an entity, a verification, the compliance forms, an admin's
 * overview) an expired or revoked token went unnoticed until the next request; the token's `exp` was read for the
 * sign-out message only. The session now ends at the expiry, and a visible tab asks the server once a minute whether
 * it still accepts the token (the browser test proves both on real pages).
 */

const DAY = 86_400_000;

/** A tab shown or hidden by the test, telling the watch as `document` does. */
const tab = (): Visibility & { set(hidden: boolean): void } => {
  let hidden = false;
  const listeners = new Set<() => void>();
  return {
    hidden: () => hidden,
    onChange: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    set(value) {
      hidden = value;
      for (const listener of listeners) listener();
    },
  };
};

describe('the console session watch', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('ends the session when the token expires, not before', () => {
    const onExpired = vi.fn();
    watchSession({ expiresAt: new Date(Date.now() + 90_000), onExpired, check: async () => {}, visibility: tab() });
    vi.advanceTimersByTime(89_999);
    expect(onExpired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(onExpired).toHaveBeenCalledOnce();
    vi.advanceTimersByTime(10 * CHECK_EVERY_MS);
    expect(onExpired).toHaveBeenCalledOnce();
  });

  it('ends a token of a month at its expiry, past setTimeout\'s limit of 2^31 - 1 ms (about 24.8 days)', () => {
    const onExpired = vi.fn();
    const lifetime = 30 * DAY;
    expect(lifetime).toBeGreaterThan(MAX_TIMER_MS);
    watchSession({ expiresAt: new Date(Date.now() + lifetime), onExpired, check: async () => {}, visibility: tab() });
    vi.advanceTimersByTime(MAX_TIMER_MS + 1);
    expect(onExpired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(lifetime - MAX_TIMER_MS - 2);
    expect(onExpired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(onExpired).toHaveBeenCalledOnce();
  });

  it('ends a session restored with a token expired already, after the caller has taken it up', () => {
    const onExpired = vi.fn();
    watchSession({ expiresAt: new Date(Date.now() - 1), onExpired, check: async () => {}, visibility: tab() });
    expect(onExpired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(0);
    expect(onExpired).toHaveBeenCalledOnce();
  });

  it('asks the server every interval while the tab is visible, and never while it is hidden', async () => {
    const check = vi.fn(async () => {});
    const visibility = tab();
    watchSession({ onExpired: () => {}, check, checkEveryMs: 1_000, visibility });
    await vi.advanceTimersByTimeAsync(3_000);
    expect(check).toHaveBeenCalledTimes(3);
    visibility.set(true);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(check).toHaveBeenCalledTimes(3);
    // Shown again after more than an interval: asked at once, then every interval.
    visibility.set(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(check).toHaveBeenCalledTimes(4);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(check).toHaveBeenCalledTimes(6);
  });

  it('does not ask twice when the tab is shown again within the interval', async () => {
    const check = vi.fn(async () => {});
    const visibility = tab();
    watchSession({ onExpired: () => {}, check, checkEveryMs: 1_000, visibility });
    await vi.advanceTimersByTimeAsync(1_000);
    visibility.set(true);
    visibility.set(false);
    visibility.set(true);
    visibility.set(false);
    await vi.advanceTimersByTimeAsync(999);
    expect(check).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(check).toHaveBeenCalledTimes(2);
  });

  it('keeps asking after a failed check (offline, a 5xx): only a 401 ends the session, through the Api', async () => {
    const check = vi.fn(async () => {
      throw new TypeError('Failed to fetch');
    });
    watchSession({ onExpired: () => {}, check, checkEveryMs: 1_000, visibility: tab() });
    await vi.advanceTimersByTimeAsync(3_000);
    expect(check).toHaveBeenCalledTimes(3);
  });

  it('gives up a check that never answers (a stalled proxy) at the next one\'s time, and asks again', async () => {
    // As fetch does: settled only by its signal.
    const check = vi.fn(
      (signal: AbortSignal) => new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')))),
    );
    watchSession({ onExpired: () => {}, check, checkEveryMs: 1_000, visibility: tab() });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(check).toHaveBeenCalledOnce();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(check.mock.calls[0]![0].aborted).toBe(true);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(check).toHaveBeenCalledTimes(2);
  });

  it('stops on sign-out: no more checks, no expiry, and the check under way is cancelled', async () => {
    const signals: AbortSignal[] = [];
    const check = vi.fn((signal: AbortSignal) => {
      signals.push(signal);
      return new Promise<void>(() => {});
    });
    const onExpired = vi.fn();
    const stop = watchSession({ expiresAt: new Date(Date.now() + 5_000), onExpired, check, checkEveryMs: 1_000, visibility: tab() });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(check).toHaveBeenCalledOnce();
    stop();
    expect(signals[0]!.aborted).toBe(true);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(check).toHaveBeenCalledOnce();
    expect(onExpired).not.toHaveBeenCalled();
  });
});
