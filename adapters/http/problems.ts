import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { TransparencyLogOfAnotherLog } from '../../projections/transparency/index.ts';
import { EventsDbReplaced } from '../runtime/events-db-replaced.ts';
import { TransparencyLogAltered } from '../../domain/ports/transparency-log.ts';
import { BASELINE_STATIC_HEADERS, baselineHeaders } from './baseline-headers.ts';
import { logFailure } from './log-failure.ts';
import { noteRefusal } from './logging.ts';
import { mapRaisedError, requestKindOf, type Mapped, type RequestKind } from './map-raised-error.ts';
import { PROBLEM_TYPE_BASE } from './problem-type-base.ts';
import { MAX_PATH_PARAM_CHARS } from './path-params.ts';
import { REDACTED, redactedPathOf } from './redact-url.ts';
import { routeMediaTypes } from './route-media-types.ts';

/**
 * RFC 9457 problem details for every refusal of the API. Route handlers throw a CredenceError (or let their zod
 * schemas fail); this module turns it into `application/problem+json` with the status below. `detail` is the
 * error's message, which never carries secrets (domain/errors.ts); errors of unknown origin get a generic detail.
 *
 * | code / cause                           | status | extensions                                    |
 * | validation, schema failure, bad JSON   | 400    | errors: [{ path, rule, message }] every field |
 * | malformed URL (router)                 | 400    | errors (no instance: the path is not echoed)  |
 * | no / expired / forged / revoked token  | 401    | WWW-Authenticate: Bearer                      |
 * | unauthorised (authenticated, refused)  | 403    | reason                                        |
 * | not_found (no such entity, token, ...) | 404    | streamId (tokenId: DELETE /v1/tokens/{id})    |
 * | route_not_found (no route matches)     | 404    |                                               |
 * | illegal_transition                     | 409    | streamId, state, attempted, allowed, rule     |
 * | concurrency_conflict                   | 409    | streamId, expected, actual                    |
 * | body too large                         | 413    |                                               |
 * | path segment too long (router)         | 414    | (instance: that segment [redacted])           |
 * | unsupported content type               | 415    |                                               |
 * | bad_signature (request signature)      | 422    | reason                                        |
 * | protocol (device protocols)            | 422    | step, reason                                  |
 * | rate limited                           | 429    | Retry-After                                   |
 * | broken_history                         | 500    | streamId, position                            |
 * | broken_history (a pseudonym resolution) | 409    | pseudonym, streamId, eventType, reason        |
 * | secure_environment_unsupported (HSM)   | 500    | reason, mechanism, returnValue                |
 * | overloaded, not ready, shutting down   | 503    | Retry-After                                   |
 * | store_unavailable (busy, full, closed, unreachable, timeout, not_leader, commit_failed, unauthorised) | 503 | reason; Retry-After |
 * | damaged_database (SQLite corruption)   | 503    | file (never its path); no Retry-After         |
 * | file_locked (another process's lock)   | 503    | file (never its path); Retry-After            |
 * | secure_environment_unavailable (HSM)   | 503    | reason, returnValue; Retry-After              |
 * | transparency_log_of_another_log        | 503    | no Retry-After (a command; a proof: reason)   |
 * | events_db_replaced (moved under it)    | 503    | no Retry-After                                |
 * | transparency_log_altered (a proof)     | 503    | no Retry-After                                |
 *
 * bad_signature is 422, not 401: the bearer token was good; what failed is a signature inside the body (SER-016),
 * and a 401 would tell the client to fetch a new token. Schema paths name the request part: `body.data.nodeId`,
 * `query.limit`, `params.kind`; a CredenceError thrown by a handler keeps its own paths.
 */

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
export { PROBLEM_TYPE_BASE };

export const ProblemSchema = z
  .looseObject({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), rule: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details (application/problem+json)' });
export type ProblemDocument = z.infer<typeof ProblemSchema>;

/** A refusal the HTTP layer itself decides (authentication, limits, readiness), carried to the error handler. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    readonly extensions: Readonly<Record<string, unknown>> = {},
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(detail);
    this.name = 'HttpProblem';
  }
}

/**
 * The reasons of a request that carries no bearer token at all (none, or another scheme's credentials): RFC 6750
 * §3.1, its challenge holds no error code. Any other reason is a token that was sent and refused: `invalid_token`.
 */
const NO_BEARER_TOKEN: ReadonlySet<string> = new Set(['missing', 'not_bearer']);

/** The realm of every bearer challenge the service sends, a 401's and a 403's alike. */
const REALM = 'Bearer realm="credence"';

export const unauthenticated = (reason: string): HttpProblem =>
  new HttpProblem(401, 'unauthenticated', `a valid bearer token is required: ${reason}`, { reason }, {
    'www-authenticate': NO_BEARER_TOKEN.has(reason) ? REALM : `${REALM}, error="invalid_token"`,
  });

/**
 * RFC 6750 §3.1: a valid token whose role (its scope) does not reach what was asked is told `insufficient_scope`, so a
 * client tells it from a token to replace (review 367: the 403 carried no challenge).
 */
const INSUFFICIENT_SCOPE: Readonly<Record<string, string>> = { 'www-authenticate': `${REALM}, error="insufficient_scope"` };

export const forbidden = (role: string, allowed: readonly string[]): HttpProblem =>
  new HttpProblem(403, 'forbidden', `role ${role} may not call this route (allowed: ${allowed.join(', ')})`, { role, allowed }, INSUFFICIENT_SCOPE);

/**
 * A refusal a route raises for what the token's role may not receive (an `unauthorised` of the event stream's forms of
 * identifiers), answered as it maps, with the challenge `forbidden` carries. Not for a refusal of who the caller is.
 */
export const refusedForTheRole = (error: unknown): HttpProblem => {
  const mapped = mapError(error, 'read');
  return new HttpProblem(mapped.status, mapped.code, mapped.detail, mapped.extensions, { ...mapped.headers, ...INSUFFICIENT_SCOPE });
};

export const overloaded = (retryAfterSeconds: number, reason: string): HttpProblem =>
  new HttpProblem(503, 'overloaded', `the service is overloaded (${reason}); retry later`, { reason }, { 'retry-after': String(retryAfterSeconds) });

export const rateLimited = (retryAfterSeconds: number): HttpProblem =>
  new HttpProblem(429, 'rate_limited', `too many requests; retry in ${retryAfterSeconds} s`, {}, { 'retry-after': String(retryAfterSeconds) });

/**
 * No route matches the request: its own type, never `not_found`, which clients take as the service's word that an
 * entity does not exist (device init's unused-id check, the settling of a lost receipt). A proxy that routes a path to
 * another instance, or to a version without the route, must not have its answer read as that (found in review).
 */
export const routeNotFound = (detail: string): HttpProblem => new HttpProblem(404, 'route_not_found', detail);

const TITLE_OF: Record<string, string> = {
  validation: 'Invalid request',
  unauthenticated: 'Authentication required',
  forbidden: 'Forbidden',
  unauthorised: 'Forbidden',
  not_found: 'Not found',
  route_not_found: 'No such route',
  illegal_transition: 'Illegal transition',
  concurrency_conflict: 'Conflict',
  bad_signature: 'Bad request signature',
  protocol: 'Protocol error',
  broken_history: 'Broken history',
  store_unavailable: 'Event store unavailable',
  damaged_database: 'Damaged database',
  file_locked: 'File locked',
  secure_environment_unavailable: 'Secure Environment unavailable',
  secure_environment_unsupported: 'Secure Environment cannot do this',
  // Sentence case, as every title here: Node's status text (`Precondition Failed`) is not (review 342).
  precondition_failed: 'Precondition failed',
  payload_too_large: 'Payload too large',
  uri_too_long: 'URI too long',
  unsupported_media_type: 'Unsupported media type',
  rate_limited: 'Too many requests',
  overloaded: 'Service unavailable',
  not_ready: 'Not ready',
  internal: 'Internal error',
};

/**
 * A status's own title in sentence case, as every title in TITLE_OF (review 342: a code missing there showed Node's
 * status text, `Bad Request`, `Service Unavailable`, beside `Invalid request`). Words in capitals (URI) stay so.
 */
export const statusTitle = (status: number): string => {
  const [first = 'Error', ...rest] = (STATUS_CODES[status] ?? 'Error').split(' ');
  return [first, ...rest.map((word) => (word === word.toUpperCase() ? word : word.toLowerCase()))].join(' ');
};

/** The status, code and details of any error a request can end with. */
export const mapError = (error: unknown, kind?: RequestKind): Mapped => {
  if (error instanceof HttpProblem) return { status: error.status, code: error.code, detail: error.message, extensions: error.extensions, headers: error.headers };
  return mapRaisedError(error, kind);
};

export const problemDocument = (mapped: Mapped, request: FastifyRequest): ProblemDocument => ({
  ...documentOf(mapped),
  // The path only: a query string may carry identifiers the caller chose, never needed to locate the refusal. A path
  // segment holding a token is written as the log writes it (review 33: a token put in a path came back whole).
  instance: redactedPathOf(request).slice(0, 512),
  ...mapped.extensions,
  requestId: request.id,
});

const documentOf = (mapped: Mapped): ProblemDocument => ({
  type: `${PROBLEM_TYPE_BASE}${mapped.code}`,
  title: TITLE_OF[mapped.code] ?? statusTitle(mapped.status),
  status: mapped.status,
  detail: mapped.detail,
});

/**
 * What the API would answer for `error`, with no request behind it: the CLI's refusals on a local data folder under
 * `--json`, so that a script reads one shape whether the command ran on the folder or against a server (found in
 * review 24: the local form was the engine's `{code, message, ...}`).
 */
export const problemDocumentOf = (error: unknown): ProblemDocument => {
  const mapped = mapError(error);
  return { ...documentOf(mapped), ...mapped.extensions };
};

/**
 * The router's own refusals (Fastify `frameworkErrors`), before any route or hook runs: a path that is not a valid
 * URL (a malformed percent-escape) and a path parameter longer than the router takes. Fastify's answers quote the
 * path; these never do.
 */
const FRAMEWORK_CODES: Record<string, Mapped> = {
  FST_ERR_BAD_URL: {
    status: 400,
    code: 'validation',
    detail: 'the request path is not a valid URL (a malformed percent-escape)',
    extensions: { errors: [{ path: 'url', rule: 'url_encoding', message: 'not a valid percent-encoded path' }] },
  },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: 'uri_too_long', detail: 'a segment of the request path is longer than any identifier the service has' },
};

/**
 * A 414's `instance`: the path as every problem writes it (redact-url.ts), and each segment longer than the router
 * takes `[redacted]` too, so what was wrong is not echoed (review 219: the 414 had no `instance`, which every problem
 * has). A segment's decoded length is what the router counts: one too long is longer still as sent.
 */
const withoutLongSegments = (path: string): string =>
  path.split('/').map((segment) => (segment.length > MAX_PATH_PARAM_CHARS ? REDACTED : segment)).join('/');

/**
 * Answers a router-level error (Fastify's `frameworkErrors`) as problem+json, with nothing else taken from the URL:
 * the path is what was wrong, and echoing it reflects whatever the caller put there. A path that is not a valid URL has
 * no `instance`; a 414's writes the segment too long `[redacted]`.
 */
export const sendFrameworkProblem = (reply: FastifyReply, request: FastifyRequest, error: FastifyError): FastifyReply => {
  const mapped = FRAMEWORK_CODES[error.code] ?? { status: 500, code: 'internal', detail: STATUS_CODES[500]! };
  const problem = problemDocument(mapped, request);
  const { instance: _path, ...withoutInstance } = problem;
  // Redacted before it is cut to length, so that no part of a long segment is left.
  const document = mapped.code === 'uri_too_long' ? { ...problem, instance: withoutLongSegments(redactedPathOf(request)).slice(0, 512) } : withoutInstance;
  // No route, so no onSend hook: the request id header and the baseline are set here.
  baselineHeaders(request, reply);
  noteRefusal(reply, mapped);
  return reply.code(mapped.status).header('x-request-id', request.id).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(document));
};

/**
 * The baseline sends `no-store` to a request with a bearer token (baseline-headers.ts); a refusal before any request
 * cannot tell whether one was sent, so it always says it (found in review: it had no Cache-Control at all).
 */
const NOT_STORED = 'Cache-Control: no-store\r\n';

/**
 * The HTTP parser's own refusals (Fastify's `clientErrorHandler`), before there is any request: a malformed request
 * line or header, a body framed two ways (`Content-Length` with `Transfer-Encoding`), headers over the size Node
 * takes, a request that took too long. Answered as problem+json on the raw socket, which is then closed; nothing of
 * the input is echoed. A connection reset, or a socket that cannot be written, gets nothing. No onSend hook runs for
 * it: the baseline's static headers are written here (review 50's follow-up: it carried none), and `no-store`.
 */
export const clientErrorAnswer = (error: NodeJS.ErrnoException): string | undefined => {
  const refusal = clientErrorRefusal(error);
  return refusal === undefined ? undefined : clientErrorAnswerOf(refusal);
};

/** The status and problem code of an HTTP parser's refusal (clientErrorAnswer), what its log line and count say. */
export interface ClientErrorRefusal {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
}

/** What the HTTP parser's refusal `error` is answered with; none for a connection reset. */
export const clientErrorRefusal = (error: NodeJS.ErrnoException): ClientErrorRefusal | undefined => {
  if (error.code === 'ECONNRESET') return undefined;
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, code: 'request_timeout', detail: 'the request was not received in time' };
  if (error.code === 'HPE_HEADER_OVERFLOW') return { status: 431, code: 'headers_too_large', detail: 'the request headers are larger than the service takes' };
  return { status: 400, code: 'malformed_request', detail: 'the request is not valid HTTP/1.1 (its request line, a header or its framing)' };
};

/** The raw HTTP answer of an HTTP parser's refusal. */
export const clientErrorAnswerOf = ({ status, code, detail }: ClientErrorRefusal): string => {
  const body = JSON.stringify({ type: `${PROBLEM_TYPE_BASE}${code}`, title: statusTitle(status), status, detail });
  const baseline = Object.entries(BASELINE_STATIC_HEADERS).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${baseline}${NOT_STORED}Connection: close\r\n\r\n${body}`;
};

/**
 * Fastify's 415 (no parser for the type sent) names what the route takes, not always JSON; its 413 (a body sent
 * without a length, cut at the route's limit) names that limit, as the refusal of a declared length does
 * (protection.ts; review 77: a device route's own limit went unnamed).
 */
const withWhatTheRouteTakes = (mapped: Mapped, error: unknown, request: FastifyRequest): Mapped => {
  const code = (error as Partial<FastifyError>).code;
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return { ...mapped, detail: `send ${routeMediaTypes(request).join(' or ')}` };
  const limit = request.routeOptions?.bodyLimit;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE' && limit !== undefined) return { ...mapped, detail: `the request body is larger than the ${limit} bytes this route accepts` };
  return mapped;
};

/**
 * Readies `reply` to answer `error` as problem+json: its status, its headers, its type and what its log line notes;
 * returns the document to send. The error handler sends it (sendProblem); the access hook puts it, serialised by
 * problemPayload, in place of an answer already on its way (auth/access-hook.ts).
 */
const readyProblem = (reply: FastifyReply, request: FastifyRequest, error: unknown): ProblemDocument => {
  // A read's unavailable store is answered as a read's: it stored nothing, so no command retry advice (review 199); a
  // device's step as a step's: it sent no command id (review 202).
  const mapped = withWhatTheRouteTakes(mapError(error, requestKindOf(request.method, request.routeOptions?.url)), error, request);
  for (const [name, value] of Object.entries(mapped.headers ?? {})) reply.header(name, value);
  noteRefusal(reply, mapped);
  reply.code(mapped.status).type(PROBLEM_CONTENT_TYPE);
  return problemDocument(mapped, request);
};

/** Sends `error` as problem+json; returns the status sent. */
export const sendProblem = (reply: FastifyReply, request: FastifyRequest, error: unknown): FastifyReply =>
  reply.send(readyProblem(reply, request, error));

/**
 * `error` as problem+json in place of the payload of an answer past the point where it can be sent again (an onSend
 * hook): the reply readied as sendProblem readies it, and the document serialised as Fastify serialises what
 * sendProblem sends, by the route's serializer of that status and type (openapi-refusals.ts declares the problems),
 * else as JSON, its type given the charset send gives a JSON type.
 */
export const problemPayload = (reply: FastifyReply, request: FastifyRequest, error: unknown): string => {
  const document = readyProblem(reply, request, error);
  reply.type(`${PROBLEM_CONTENT_TYPE}; charset=utf-8`);
  const serialise = reply.getSerializationFunction(String(reply.statusCode), PROBLEM_CONTENT_TYPE);
  return serialise === undefined ? JSON.stringify(document) : serialise(document);
};

/**
 * The error handler of the service's listeners: every refusal as problem+json, and a failure that is no refusal the
 * HTTP layer decided (no HttpProblem, a 5xx) logged with its error.
 */
export const answerWithProblem = (error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
  const sent = sendProblem(reply, request, error);
  // A damaged database as its file and what mends it, without a stack (review 51: a torn page of transparency.db was a
  // 500 with the driver's stack).
  // A command refused while the transparency log has stopped is no failure of the request: the live runtime says why
  // the log stopped, at each retry. One refused over an events.db replaced neither: the runtime said it once.
  const saidByTheRuntime = error instanceof TransparencyLogOfAnotherLog || error instanceof EventsDbReplaced || error instanceof TransparencyLogAltered;
  if (reply.statusCode >= 500 && !(error instanceof HttpProblem) && !saidByTheRuntime) logFailure(request.log, error, 'request failed');
  return sent;
};

/**
 * A write sent with a condition (`header`: If-Match, If-None-Match, If-Unmodified-Since), which no write route of the
 * service evaluates: none has a current representation to hold it against, so it is refused as false (RFC 9110
 * 13.1.1, 13.2.2) and nothing is done (review 219: If-Match was ignored and the command written). `header` is one of
 * those names, never its value.
 */
export const preconditionFailed = (header: string): HttpProblem =>
  new HttpProblem(
    412,
    'precondition_failed',
    `${header} was sent, and this route takes no conditional request (RFC 9110 13.1): nothing was done; send it without the header. ` +
      "A command carries no expected revision either: the entity's machine judges it against the entity's state as it is recorded, " +
      'and a commandId sent again replays the first outcome',
    { header },
  );
