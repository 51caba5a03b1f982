import type { ReplayCache } from '../ports/replay-cache.ts';

export const DEFAULT_MAX_CLOCK_SKEW_SECONDS = 300;

/**
 * The sender clock skew a responder accepts (see `assertFresh`). A hello older than that is refused as stale, so a
 * replay cache window of at least twice the skew means a nonce it has forgotten can never be replayed (SER-012).
 * Both bounds are inclusive: `assertFresh` accepts a skew of exactly the maximum and the cache keeps an entry through
 * the last instant of its window, so at exactly twice the skew a nonce is still remembered (issue 11 item 10).
 */
export const acceptedClockSkew = (options: { readonly maxClockSkewSeconds?: number | undefined; readonly replayCache: ReplayCache }): number => {
  const skew = options.maxClockSkewSeconds ?? DEFAULT_MAX_CLOCK_SKEW_SECONDS;
  if (options.replayCache.windowSeconds < 2 * skew) throw new RangeError('replayCache.windowSeconds must be at least twice maxClockSkewSeconds');
  return skew;
};
