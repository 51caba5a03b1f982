import type { RouteAccess } from './context.ts';

/**
 * Response headers as the OpenAPI document declares them: a JSON Schema per header, its `description` becoming the
 * header's. A route puts them on a response object (`{ description, headers, content }`) or, for a response with no
 * body, in its zod schema's meta; Fastify only documents them (openapi-transform.ts), it never checks a header sent.
 */
export type ResponseHeaders = Readonly<Record<string, { readonly type: 'string' | 'integer' | 'boolean'; readonly description: string } & Record<string, unknown>>>;

export const RETRY_AFTER: ResponseHeaders = {
  'retry-after': {
    type: 'integer',
    minimum: 0,
    description: 'seconds to wait before sending the request again (absent when waiting will not help: a damaged database)',
  },
};

export const WWW_AUTHENTICATE: ResponseHeaders = {
  'www-authenticate': {
    type: 'string',
    description: 'RFC 6750 3: `Bearer realm="credence"`, with `error="invalid_token"` when a token was sent and refused',
  },
};

export const X_REQUEST_ID: ResponseHeaders = {
  'x-request-id': {
    type: 'string',
    description: "this request's id, on each of its log lines: the caller's own X-Request-ID when it is 1 to 64 of `A-Za-z0-9._:-`, else a new UUID",
  },
};

/** @fastify/rate-limit's, counted per token subject, or per source address without a token (protection.ts). */
export const RATE_LIMIT: ResponseHeaders = {
  'x-ratelimit-limit': { type: 'integer', minimum: 1, description: "requests this caller may send in the window" },
  'x-ratelimit-remaining': { type: 'integer', minimum: 0, description: 'requests this caller has left in the window' },
  'x-ratelimit-reset': { type: 'integer', minimum: 0, description: 'seconds until the window starts again' },
};

export const NO_STORE: ResponseHeaders = {
  'cache-control': {
    type: 'string',
    enum: ['no-store', 'no-store, no-transform'],
    description: '`no-store` (an event stream `no-store, no-transform`): no cache keeps what a token read',
  },
};

/**
 * baseline-headers.ts sends `no-store` to any request with an Authorization header, whoever may call the route and
 * whether the token passed or not (a public route's answer, a 401 for a refused token, a 404), unless the route set a
 * Cache-Control of its own, which it then declares.
 */
export const NO_STORE_WITH_A_TOKEN: ResponseHeaders = {
  'cache-control': {
    type: 'string',
    enum: ['no-store'],
    description: '`no-store` when the request carried an Authorization header, whatever its token: no cache keeps an answer to one; absent otherwise',
  },
};

/**
 * The headers the service's own hooks put on every answer of a status, whatever the route: the request id (the onSend
 * hook, and every problem); the rate limit's count on a route it counts (its onRequest hook runs before the token's
 * refusal is thrown, so a 401 or 403 carries them too); `no-store` on a role route's answers to a request with a token
 * (baseline-headers.ts), and on any other answer when a token came with the request. Left off where an answer of the
 * status may come without them: a 503 of load shedding or shutdown is refused before the count, a 401 or 429 may
 * answer a request with no token, and a 4XX/5XX catch-all includes the router's refusals (a malformed URL, an overlong
 * path parameter), which no hook sees: sendFrameworkProblem (problems.ts) gives them the request id and the baseline
 * (`no-store` only with a token), never the rate limit's count.
 */
export const headersOfEveryAnswer = (status: string, access: RouteAccess | undefined, rateLimited: boolean): ResponseHeaders => {
  const code = status.toUpperCase();
  const counted = rateLimited && !['503', '4XX', '5XX'].includes(code);
  const withToken = Array.isArray(access) && !['401', '429', '503', '4XX', '5XX'].includes(code);
  return { ...X_REQUEST_ID, ...(counted ? RATE_LIMIT : {}), ...(withToken ? NO_STORE : NO_STORE_WITH_A_TOKEN) };
};
