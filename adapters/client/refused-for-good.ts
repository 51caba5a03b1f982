import { isServiceProblem } from './service-problem.ts';

/**
 * 4xx answers that are no refusal of what was sent: 408 (it timed out) and 429 (too many, for now) may come after the
 * request took effect, and 401 and 403 refuse the caller's token, not the request (the device routes take none, so
 * there only a gateway answers them).
 */
const NOT_A_REFUSAL = new Set([401, 403, 408, 429]);

/**
 * Whether `error` is the Credence service's own refusal of a request, one it would give again and which recorded
 * nothing: a 4xx problem answer of one of the service's own problem types (isServiceProblem), but for the statuses
 * above. A gateway's or proxy's 4xx (an HTML page, `about:blank`, another type) says nothing of what the
 * service did with a request it may have forwarded (found in review: a gateway's 408 after the receipt reached the
 * server destroyed the key of the credential the server recorded). Nor does `route_not_found`: the Credence that
 * answered has no such route, and a proxy may have sent the request to it (another instance, a version without the
 * route) after, or instead of, the one that has it.
 */
export const refusedForGood = (error: unknown): boolean =>
  isServiceProblem(error) &&
  error.status >= 400 &&
  error.status < 500 &&
  !NOT_A_REFUSAL.has(error.status) &&
  !isServiceProblem(error, 'route_not_found');
