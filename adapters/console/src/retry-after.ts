/** `Retry-After` as seconds or as an HTTP date (RFC 9110 10.2.3), in ms; undefined when it is neither. */
export const retryAfterMs = (value: string | null): number | undefined => {
  if (value === null) return undefined;
  if (/^\d{1,9}$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
};

/** One definition for the console and the CLI's client (domain/transient-status.ts), where both may import it. */
export { transientStatus } from '../../../domain/transient-status.ts';

/** A wait as a person reads it: `30 s`, or whole minutes (rounded up) from two minutes on. */
export const waitText = (ms: number): string => {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  return seconds < 120 ? `${seconds} s` : `${Math.ceil(seconds / 60)} min`;
};
