import { retryAfterMs as retryAfterMsAt } from '../../../domain/retry-after.ts';

/** What a Retry-After header asks to wait, in ms, by the CLI's rules (domain/retry-after.ts) against the browser's clock. */
export const retryAfterMs = (value: string | null): number | undefined => retryAfterMsAt(value, Date.now());

/** One definition for the console and the CLI's client (domain/transient-status.ts), where both may import it. */
export { transientStatus } from '../../../domain/transient-status.ts';

/** A wait as a person reads it: `30 s`, or whole minutes (rounded up) from two minutes on. */
export const waitText = (ms: number): string => {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  return seconds < 120 ? `${seconds} s` : `${Math.ceil(seconds / 60)} min`;
};
