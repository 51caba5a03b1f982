import { ProblemResponse } from './http.ts';
import { isServiceProblem } from './service-problem.ts';

/**
 * How a Credence before `route_not_found` said an unknown route: `not_found` with this detail. A proxy may still route
 * a read to such an instance (review 71), and that answer says nothing of the entity either.
 */
const EARLIER_NO_ROUTE = 'no route ';

const isEarlierNoRoute = (error: unknown): boolean =>
  isServiceProblem(error, 'not_found') && String(error.problem.detail ?? '').startsWith(EARLIER_NO_ROUTE);

/**
 * Whether `error` is the Credence service's own word that the entity read does not exist: its `not_found` problem,
 * 404. Not its `route_not_found` (the Credence that answered has no such route: a proxy sent the read to another
 * instance, or to a version without it), nor a gateway's or proxy's 404 page: either may come from in front of a
 * service that holds the entity (found in review: a gateway's HTML 404 to the read of the bootstrap credential let
 * `device init` destroy a key the server held).
 */
export const isEntityAbsent = (error: unknown): boolean => isServiceProblem(error, 'not_found') && error.status === 404 && !isEarlierNoRoute(error);

/**
 * The error a read made for `check` ends with when its 404 says nothing of the entity, so that a person learns which
 * check could not be made, why, and what to do (found in review: behind nginx's `proxy_intercept_errors` the CLI
 * said only "refused: Not Found (404)" and the proxy's page). `rerun` is the command to run again. The answer's body
 * is not repeated: a proxy's page is no word of Credence's, and nothing of the request (its token) is named. Any
 * other error is returned as it is.
 */
export const entityReadUnanswered = (error: unknown, check: string, rerun: string): unknown => {
  if (!(error instanceof ProblemResponse) || error.status !== 404 || isEntityAbsent(error)) return error;
  const { type, title, status } = error.problem;
  const answered = error.status;
  if (isServiceProblem(error, 'route_not_found') || isEarlierNoRoute(error)) {
    return new ProblemResponse(error.status, {
      ...error.problem,
      detail: `${error.problem.detail ?? title}: the Credence that answered has no such route (a proxy sent the read to another instance, or to a version without it), so whether the entity exists is not known`,
      check,
      remedy: `give the service's own URL to --server, or have the proxy route the request to it, then run ${rerun} again`,
    });
  }
  // Another 404 of Credence's own is its word, said as it is.
  if (isServiceProblem(error)) return error;
  return new ProblemResponse(answered, {
    type,
    title,
    status,
    detail:
      `the 404 did not come from Credence: it has no problem body of Credence's types (application/problem+json), so whether the entity exists is not known; ` +
      "a proxy in front of the service may replace its error bodies with pages of its own (nginx: proxy_intercept_errors)",
    check,
    remedy: `pass the service's application/problem+json error bodies through the proxy unchanged (nginx: proxy_intercept_errors off), then run ${rerun} again`,
  });
};
