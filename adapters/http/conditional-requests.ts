import { validationError } from '../../domain/errors.ts';
import type { App } from './context.ts';
import { preconditionFailed } from './problems.ts';

/** The methods that write: a condition sent with one is refused (refuseConditionalWrites). */
export const WRITE_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Routes of a write method that write nothing, by `METHOD url`: the OCSP POST asks for a status (RFC 6960 A.1.1; POST
 * only because the request may be too long for a URL), and its client reads OCSPResponses only (RFC 6960 2.3), never
 * a 412 problem. A condition there guards no write, so it is not refused (nor declared: openapi-refusals.ts).
 */
const WRITES_NOTHING: ReadonlySet<string> = new Set(['POST /pki/:caId/ocsp']);

/** The request conditions of a write (RFC 9110 13.1), in the order 13.2.2 evaluates them, as a refusal names them. */
const CONDITIONS = ['If-Match', 'If-Unmodified-Since', 'If-None-Match'] as const;

/**
 * The routes that take a command, by `METHOD url`: each takes its idempotency key as the body's `commandId`
 * (openapi-command-refusals.ts declares their refusals).
 */
export const COMMAND_ROUTES: ReadonlySet<string> = new Set(['POST /v1/commands', 'POST /v1/pseudonyms/rotations', 'POST /v1/pseudonyms/resolutions']);

/**
 * An `Idempotency-Key` header (the IETF httpapi draft's) on a command route, refused `400 validation` naming it: the
 * key is the body's `commandId`, and the header ignored gave a client that followed the draft a new command id at each
 * retry, so a retried command was recorded twice (review 342). Its value is never echoed.
 */
const idempotencyKeyRefused = () =>
  validationError(
    [
      {
        path: 'headers.idempotency-key',
        rule: 'use_command_id',
        message:
          'Idempotency-Key is not read here: send the key as body.commandId (a UUID), which makes a retry safe (the same commandId again replays the first outcome); nothing was done',
      },
    ],
    'request',
  );

/** Whether the route of `method` (one, or Fastify's list) and `url` refuses a conditional request. */
export const refusesConditions = (method: string | readonly string[], url: string | undefined): boolean =>
  (typeof method === 'string' ? [method] : method).some((m) => WRITE_METHODS.has(m.toUpperCase()) && !WRITES_NOTHING.has(`${m.toUpperCase()} ${url}`));

/**
 * A write that carries If-Match, If-Unmodified-Since or If-None-Match is refused `412 precondition_failed`, naming the
 * header, before its body is read, and nothing is done. An origin server must evaluate If-Match (RFC 9110 13.1.1), and
 * no write route has a current representation to hold it against: it is false. The commands carry no expected revision
 * to lend one (the entity's machine judges each against the state it is recorded in). If-None-Match and
 * If-Unmodified-Since have no representation to be held against either; a client that sent one meant the write to be
 * conditional, and doing it anyway would tell it the guard held (review 219: `If-Match: "no-such-etag"` on
 * POST /v1/commands was answered 201 and the command written). Reads keep their own conditions (the CRLs', the OCSP
 * GET's and /openapi.json's If-None-Match). After authentication and the body's limits, as the query's checks are.
 */
export const refuseConditionalWrites = (app: App): void => {
  // An Idempotency-Key on a command route is refused here too (idempotencyKeyRefused): it is no condition, but it is
  // a header that, ignored, would have the write done other than the client meant, and nothing is read or done yet.
  app.addHook('preParsing', async (request, _reply, payload) => {
    if (!refusesConditions(request.method, request.routeOptions.url)) return payload;
    const sent = CONDITIONS.find((name) => request.headers[name.toLowerCase()] !== undefined);
    if (sent !== undefined) throw preconditionFailed(sent);
    if (request.headers['idempotency-key'] !== undefined && COMMAND_ROUTES.has(`${request.method} ${request.routeOptions.url}`)) throw idempotencyKeyRefused();
    return payload;
  });
};
