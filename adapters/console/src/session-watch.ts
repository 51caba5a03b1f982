/**
 * Signs a tab out when its token stops being good, also on a page that sends no request of its own (review 58): a
 * verification, the compliance forms and an admin's overview hold no event stream (an entity's page follows one since
 * review 300, or says when it cannot), so an expired or revoked token went unnoticed there until the next click. The token's `exp` ends the session by this browser's
 * clock; a revocation is found by one cheap authenticated request a minute, while the tab is visible only.
 */

/** How often a visible tab asks the server whether it still accepts the token. */
export const CHECK_EVERY_MS = 60_000;

/** setTimeout's longest delay (2^31 - 1 ms, about 24.8 days): a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Whether the tab is shown, and when that changes: `document` in the browser (console-app.ts), a stand-in in tests,
 * which run this file under Node without the DOM.
 */
export interface Visibility {
  hidden(): boolean;
  onChange(listener: () => void): () => void;
}

export interface SessionWatchOptions {
  /** The token's `exp`; without one, only the server's answers end the session. */
  readonly expiresAt?: Date;
  /** Once `expiresAt` has passed. Called once at most, and never after the watch is stopped. */
  readonly onExpired: () => void;
  /**
   * One cheap authenticated request. Its 401 signs out through the Api's listeners, as every request's does; any other
   * failure (offline, a 5xx, a 429) is ignored here: it says nothing about the token.
   */
  readonly check: (signal: AbortSignal) => Promise<void>;
  readonly checkEveryMs?: number;
  readonly visibility: Visibility;
}

/** Starts watching the signed-in session; returns what stops it (on sign-out), which also cancels a check under way. */
export const watchSession = (options: SessionWatchOptions): (() => void) => {
  const every = options.checkEveryMs ?? CHECK_EVERY_MS;
  const { visibility } = options;
  const cancel = new AbortController();
  let expiryTimer: ReturnType<typeof setTimeout> | undefined;
  let checkTimer: ReturnType<typeof setTimeout> | undefined;
  // The token was just checked: by the sign-in, or by the page's first reads after a reload.
  let lastCheck = Date.now();
  let stopListening: (() => void) | undefined;

  const stop = (): void => {
    if (cancel.signal.aborted) return;
    cancel.abort();
    clearTimeout(expiryTimer);
    clearTimeout(checkTimer);
    stopListening?.();
  };
  const expired = (): boolean => options.expiresAt !== undefined && Date.now() >= options.expiresAt.getTime();
  const expire = (): void => {
    if (cancel.signal.aborted) return;
    stop();
    options.onExpired();
  };

  // Chained under setTimeout's limit, so that a token of a month neither ends at once nor never.
  const armExpiry = (): void => {
    if (options.expiresAt === undefined || cancel.signal.aborted) return;
    if (expired()) return expire();
    expiryTimer = setTimeout(armExpiry, Math.min(options.expiresAt.getTime() - Date.now(), MAX_TIMER_MS));
  };

  const schedule = (ms: number): void => {
    if (cancel.signal.aborted || checkTimer !== undefined) return;
    checkTimer = setTimeout(() => void tick(), Math.max(0, ms));
  };
  const tick = async (): Promise<void> => {
    checkTimer = undefined;
    // A timer can fire late (a laptop's sleep): the expiry is judged on every occasion, not only by its own timer.
    if (expired()) return expire();
    // A hidden tab asks nothing; showing it again resumes the checks (onShown).
    if (visibility.hidden()) return;
    lastCheck = Date.now();
    // A check that never answers (a stalled proxy) is given up at the next one's time: awaited for ever, it left no
    // check scheduled, and a revoked token stayed signed in (review 61).
    const attempt = new AbortController();
    const abort = (): void => attempt.abort();
    cancel.signal.addEventListener('abort', abort, { once: true });
    const giveUp = setTimeout(abort, every);
    try {
      await options.check(attempt.signal);
    } catch {
      // A 401 has signed out already (the Api's listeners); anything else is not the token's doing.
    } finally {
      clearTimeout(giveUp);
      cancel.signal.removeEventListener('abort', abort);
    }
    schedule(every);
  };
  const onShown = (): void => {
    if (cancel.signal.aborted || visibility.hidden()) return;
    if (expired()) return expire();
    schedule(lastCheck + every - Date.now());
  };

  // Deferred even when already expired: the caller is still taking the session up when this returns.
  expiryTimer = setTimeout(armExpiry, 0);
  stopListening = visibility.onChange(onShown);
  schedule(every);
  return stop;
};
