import type { App, RouteAccess } from './context.ts';
import { refusesConditions } from './conditional-requests.ts';
import { z } from 'zod';
import { answer, COMMAND_ROUTE_REFUSALS, MalformedRequestProblem, NotFoundProblem, ProtocolProblem, ValidationProblem } from './openapi-command-refusals.ts';
import { PROBLEM_CONTENT_TYPE, ProblemSchema } from './problems.ts';
import { RETRY_AFTER, WWW_AUTHENTICATE, type ResponseHeaders } from './response-headers.ts';

/** The OpenAPI operation extension naming who may call it: a list of roles, `public` or `device`. */
export const ACCESS_EXTENSION = 'x-credence-access';

const problem = (description: string, headers?: ResponseHeaders) => ({
  description,
  ...(headers !== undefined ? { headers } : {}),
  content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } },
});

/**
 * A 403's challenge (problems.ts, forbidden, refusedForTheRole): for the token's role, never for who the caller is. An
 * `unauthorised` is either (review 370): the routes whose own is for the role say so (ALSO_REFUSED).
 */
const INSUFFICIENT_SCOPE: ResponseHeaders = {
  'www-authenticate': {
    type: 'string',
    description:
      'RFC 6750 3.1: `Bearer realm="credence", error="insufficient_scope"` when the refusal is for the token\'s role (`forbidden`, and an `unauthorised` ' +
      'this response says is for the role); absent on a refusal for who the caller is (any other `unauthorised`)',
  },
};

const REFUSALS = {
  401: problem('no bearer token, or one malformed, expired, forged or revoked (`unauthenticated`)', WWW_AUTHENTICATE),
  403: problem("the token's role may not call this route (`forbidden`)", INSUFFICIENT_SCOPE),
  412: problem(
    'an If-Match, If-None-Match or If-Unmodified-Since header: no write route takes a conditional request, so none is done (`precondition_failed`, `header` naming it)',
  ),
  413: problem('the body is larger than the service accepts (`payload_too_large`)'),
  415: problem('a content type the route does not take, or a body sent with a Content-Encoding other than `identity` (answered with `Accept-Encoding: identity`) (`unsupported_media_type`)'),
  429: problem('too many requests from this caller in the window (`rate_limited`)', RETRY_AFTER),
  503: problem(
    'not now: overloaded, starting, shutting down, not ready, the event store busy or unreachable or its commit failed (`store_unavailable`; an append that timed out or failed at its commit may have been stored: send it again under the same commandId, stored once at most), or the Secure Environment unusable (`secure_environment_unavailable`, `reason` such as `token_unavailable`, `token_integrity`, `registrar_signing_key_missing`, `pseudonym_prf_key_missing`, `pseudonym_tag_key_unavailable`) (Retry-After); a damaged database, or a command while the transparency log has stopped on a restored event store (no Retry-After)',
    RETRY_AFTER,
  ),
  catchAll: problem('RFC 9457 problem details'),
};

/** A route's path or query parameters refused by its schema (review 432: under the catch-all, though every such route answers it). */
const PARAMETERS_REFUSED = answer(
  'a path or query parameter (or header) the route does not take (`validation`, each field in `errors` with its `rule`: `position_range` for a ' +
    'position past 2^63-1, ...); or a header sent twice that is not a list (`malformed_request`)',
  z.union([ValidationProblem, MalformedRequestProblem]),
);

/** A device protocol step's refusal (review 432): the step and the reason; a refused message records nothing. */
const PROTOCOL_REFUSED = answer(
  'the message refused (`protocol`, with `step` and `reason`: `malformed` naming the field, `wrong_identity`, a failed proof, `unknown_session`, ...): nothing recorded',
  ProtocolProblem,
);

/** A read of one entity that does not exist (review 432). */
const ENTITY_NOT_FOUND = answer('no entity of that kind and id (`not_found`, `streamId`)', NotFoundProblem);

/**
 * The 403 of a read of what names a pseudonym's node (routes/pseudonym-reads.ts): for the role to an operator or an
 * admin, who can never resolve a pseudonym; for who the caller is to an auditor yet to resolve it (review 370).
 */
/**
 * A route that signs a checkpoint, or answers with the latest, while the log key refuses to sign (reviews 372, 376): its
 * 503 with the reason beside the general one.
 */
const LOG_KEY_REFUSES = problem(
  'not now (as any route, Retry-After), or the transparency log was changed under the running service and the log key signs nothing more until its operator acts (`transparency_log_altered`, no Retry-After; /readyz says so too)',
  RETRY_AFTER,
);

const PSEUDONYM_READ_REFUSED = problem(
  "the token's role may not call this route (`forbidden`), or what was asked names a pseudonym's node (`unauthorised`): to an operator or an admin, " +
    'which never resolve a pseudonym, with `insufficient_scope`; to an auditor that has not recorded a resolution of that pseudonym ' +
    '(POST /v1/pseudonyms/resolutions), without. The same for a pseudonym that does not exist (review 409)',
  INSUFFICIENT_SCOPE,
);

/**
 * Routes whose own refusals share a status with the layer in front, each said with it: the event stream's caps
 * (routes/events.ts) answer 429 as the rate limit does, and a client told only `rate_limited` would wait out a window
 * where it should close a stream of its own (review 242). And those a client must tell apart from the catch-all to act
 * on (review 289): above all the stream's 409, by which an integrator learns the store was restored, and its 403 for a
 * form of identifiers the role does not receive, which is no role check. The command routes' own (review 342). And the
 * 403s whose `unauthorised` is for the role, told `insufficient_scope` (review 370).
 */
const ALSO_REFUSED: Readonly<Record<string, Readonly<Record<number, ReturnType<typeof problem> | ReturnType<typeof answer>>>>> = {
  ...COMMAND_ROUTE_REFUSALS,
  'GET /v1/entities': {
    403: problem(
      "the token's role may not call this route (`forbidden`), or `kind=pseudonym` asked by a role other than auditor (`unauthorised`, with `insufficient_scope`)",
      INSUFFICIENT_SCOPE,
    ),
  },
  'GET /v1/entities/:kind/:id': { 403: PSEUDONYM_READ_REFUSED },
  'GET /v1/entities/:kind/:id/dependents': { 403: PSEUDONYM_READ_REFUSED, 404: ENTITY_NOT_FOUND },
  'GET /v1/entities/:kind/:id/timeline': { 403: PSEUDONYM_READ_REFUSED, 404: ENTITY_NOT_FOUND },
  'GET /v1/entities/:kind/:id/state': { 403: PSEUDONYM_READ_REFUSED, 404: ENTITY_NOT_FOUND },
  'GET /v1/replay/:kind/:id': { 403: PSEUDONYM_READ_REFUSED, 404: ENTITY_NOT_FOUND },
  'GET /v1/transparency/evidence/:kind/:id': { 403: PSEUDONYM_READ_REFUSED, 404: ENTITY_NOT_FOUND, 503: LOG_KEY_REFUSES },
  'GET /v1/transparency/proofs/inclusion': { 403: PSEUDONYM_READ_REFUSED, 503: LOG_KEY_REFUSES },
  'GET /v1/transparency/checkpoint': { 503: LOG_KEY_REFUSES },
  'GET /v1/transparency/proofs/consistency': { 503: LOG_KEY_REFUSES },
  'GET /v1/events': {
    400: problem(
      'a query or Last-Event-ID the stream cannot serve (`validation`, each field in `errors` with its `rule`): `after_with_from` (both given), `repeated`, ' +
        '`not_published` (a kind or type the pseudonymised stream never publishes), `not_in_scope` (one a scoped integrator token publishes none of), ' +
        "`not_told` (an operator's kind, type or stream of a pseudonym); or the stream pipelined behind an unfinished answer on its connection (`pipelined_stream`)",
    ),
    403: problem(
      "the token's role may not call this route (`forbidden`), or it asked for a form of identifiers its role does not receive (`unauthorised`): " +
        'integrators `identifiers=canonical`, operators and auditors `identifiers=pseudonymous` (both with `insufficient_scope`)',
      INSUFFICIENT_SCOPE,
    ),
    409: problem(
      'the resume point (Last-Event-ID or `after`) is no event of this log (`resume_point_not_in_log`, `resumeAfter`; `head` to an unscoped caller): ' +
        'past its newest event, or an id whose tag names another event at its position (a re-created store, another instance, a store restored from an ' +
        'older backup); start again with from=start',
    ),
    429: problem(
      "too many requests from this caller in the window (`rate_limited`), or over a cap of open event streams, the caller's own or the service's (`too_many_streams`, with `limit`)",
      RETRY_AFTER,
    ),
    501: problem('this server has no pseudonym key, so it serves no pseudonymised stream (`pseudonyms_unavailable`): a matter of its configuration, not one to retry'),
  },
};

/**
 * The refusals a route can give whatever it does, by what the HTTP layer in front of it does: a role route's token
 * check (401, 403; a caller whose tokens were refused too often, 429), a write's conditions (412,
 * conditional-requests.ts), a body's limits (413, 415), the rate limit of every route but those that opt out
 * (protection.ts), and the 503s of load shedding and shutdown; a route's parameters refused by its schema (400
 * `validation`), and a device protocol step's message refused (422 `protocol`, each device POST). 4XX and 5XX
 * stay the catch-all for what a route refuses itself; a route's own entry for a status wins.
 */
const refusalsOf = (access: RouteAccess | undefined, hasBody: boolean, rateLimited: boolean, writes: boolean, hasParameters: boolean): Record<string, unknown> => ({
  ...(hasParameters ? { 400: PARAMETERS_REFUSED } : {}),
  ...(access === 'device' && hasBody ? { 422: PROTOCOL_REFUSED } : {}),
  ...(Array.isArray(access) ? { 401: REFUSALS[401], 403: REFUSALS[403] } : {}),
  ...(writes ? { 412: REFUSALS[412] } : {}),
  ...(hasBody ? { 413: REFUSALS[413], 415: REFUSALS[415] } : {}),
  ...(rateLimited || Array.isArray(access) ? { 429: REFUSALS[429] } : {}),
  503: REFUSALS[503],
  '4xx': REFUSALS.catchAll,
  '5xx': REFUSALS.catchAll,
});

/**
 * The OpenAPI view of a route's access: bearer security for role routes, who may call it (in words, and as
 * `x-credence-access`), and the problem responses the route can give. The one place that knows every route's access,
 * so the refusals are declared here rather than in each route.
 */
export const documentAccess = (app: App): void => {
  app.addHook('onRoute', (route) => {
    const schema = route.schema as (Record<string, unknown> & { hide?: boolean; response?: Record<string, unknown> }) | undefined;
    if (schema === undefined || schema.hide === true) return;
    const config = route.config as { access?: RouteAccess; rateLimit?: unknown } | undefined;
    const access = config?.access;
    const hasParameters = schema.params !== undefined || schema.querystring !== undefined;
    const refusals = refusalsOf(access, schema.body !== undefined, config?.rateLimit !== false, refusesConditions(route.method, route.url), hasParameters);
    const response = { ...refusals, ...ALSO_REFUSED[`${String(route.method)} ${route.url}`], ...schema.response };
    const who = access === 'public' ? 'Public.' : access === 'device' ? 'Devices (authenticated inside the protocol, no bearer token).' : `Roles: ${access?.join(', ')}.`;
    route.schema = {
      ...schema,
      response,
      description: schema.description === undefined ? who : `${String(schema.description)}\n\n${who}`,
      // Spread: FastifySchema has no index signature for OpenAPI extensions.
      ...{ [ACCESS_EXTENSION]: access },
      ...(Array.isArray(access) ? { security: [{ bearerAuth: [] }] } : {}),
    };
  });
};
