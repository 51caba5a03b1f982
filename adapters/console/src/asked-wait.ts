import { ApiError } from './api.ts';
import { MAX_BEHIND_REFRESH_MS } from './read-again.ts';

/**
 * The longest wait the server's `Retry-After` asked of `failures`, up to a minute (the longest wait the console's
 * backoffs take; a wait past ten digits is Infinity, domain/retry-after.ts): a read again must not come sooner.
 */
export const askedWaitMs = (failures: readonly unknown[]): number =>
  Math.min(MAX_BEHIND_REFRESH_MS, Math.max(0, ...failures.map((error) => (error instanceof ApiError ? (error.retryAfterMs ?? 0) : 0))));
