/** `Retry-After` as seconds or as an HTTP date (RFC 9110 10.2.3), in ms; undefined when it is neither. */
export const retryAfterMs = (value: string | null): number | undefined => {
  if (value === null) return undefined;
  if (/^\d{1,9}$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
};

/**
 * Worth another try later: the server (or a proxy or CDN before it) failed or is not there yet (5xx), shed the request
 * (429) or gave up waiting for it (408). Anything else says this request, or this token, will not be served: a 4xx,
 * and a 501 or 505, which no retry changes (a server without a pseudonym key answers integrators 501; found in review,
 * retried once a second for good).
 */
export const transientStatus = (status: number): boolean => (status >= 500 && status !== 501 && status !== 505) || status === 408 || status === 429;

/** A wait as a person reads it: `30 s`, or whole minutes (rounded up) from two minutes on. */
export const waitText = (ms: number): string => {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  return seconds < 120 ? `${seconds} s` : `${Math.ceil(seconds / 60)} min`;
};
