import { RecentlyUsed } from './recently-used.ts';

/**
 * Bearer tokens refused per source address in a window. A token is checked (an Ed25519 verification, some 300 µs
 * here) before the rate limit can run, since the limit keys on the principal the check finds; without this budget a
 * flood of forged tokens cost that check each, over budget or not (found in review: 20 requests past a budget of 5
 * were all 429 and all verified). An address whose tokens were refused `max` times in the window gets 429 for the
 * rest of it without any token being checked. At most `maxKeys` addresses are remembered, the least recently seen
 * forgotten first.
 */
export interface RefusedTokenBudget {
  /** Seconds until the address may present tokens again, when its budget is spent; undefined otherwise. */
  spent(address: string): number | undefined;
  /** One more token from `address` refused. */
  refused(address: string): void;
}

export const refusedTokenBudget = (options: {
  readonly max: number;
  readonly windowMs: number;
  readonly maxKeys?: number;
  readonly now?: () => number;
}): RefusedTokenBudget => {
  const { max, windowMs, maxKeys = 10_000, now = Date.now } = options;
  const windows = new RecentlyUsed<string, { count: number; resetAt: number }>(maxKeys);
  const current = (address: string): { count: number; resetAt: number } | undefined => {
    const window = windows.get(address);
    if (window === undefined) return undefined;
    if (window.resetAt <= now()) {
      windows.delete(address);
      return undefined;
    }
    return window;
  };
  return {
    spent(address) {
      const window = current(address);
      return window !== undefined && window.count >= max ? Math.max(1, Math.ceil((window.resetAt - now()) / 1000)) : undefined;
    },
    refused(address) {
      const window = current(address) ?? { count: 0, resetAt: now() + windowMs };
      window.count += 1;
      windows.set(address, window);
    },
  };
};
