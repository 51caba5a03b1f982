import type { FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import { stdoutLogDestination } from './log-destination.ts';
import { holdsJwtText } from './jwt-text.ts';
import { asciiDecoded, MAX_SCANNED_CHARS, REDACTED, redactedUrlOf } from './redact-url.ts';
import { beginsLikeASecretToken } from './secret-token-prefixes.ts';

// What URLs a log line keeps lives in ./redact-url.ts.
export { LOGGED_QUERY_PARAMETERS, REDACTED, redactUrl } from './redact-url.ts';

/**
 * Names of fields whose values never reach a log, wherever they sit in a logged object: bearer tokens and cookies,
 * and the secrets of the domain (PSKs, private and session keys, PINs). Matched on the whole name, ignoring case,
 * `_` and `-`, so `tokenId` (an identifier, useful when revoking) is still logged.
 */
const SECRET_NAMES = new Set([
  'token', 'accesstoken', 'idtoken', 'refreshtoken', 'jwt', 'bearer', 'apikey', 'clientsecret', 'psk', 'key', 'secret', 'pin', 'password',
  'passphrase', 'privatekey', 'sessionkey', 'authorization', 'cookie', 'setcookie',
]);
const isSecretName = (name: string): boolean => SECRET_NAMES.has(name.toLowerCase().replace(/[-_]/g, ''));

const MAX_DEPTH = 8;

const isPlain = (value: object): boolean => {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
};

/** Objects that write themselves (toJSON) or hold bytes or entries, not named fields: left as they are. */
const writesItself = (value: object): boolean =>
  typeof (value as { toJSON?: unknown }).toJSON === 'function' || ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Map || value instanceof Set || value instanceof RegExp;

/**
 * How much one log line's object is walked: its ancestors (a cycle is written `[Circular]`) and a bound on the objects
 * copied (past it `[cut]`), so that an object shared or nested many times over on an error is not copied as often as
 * it is reached (review 260: eight references to itself took 2.3 s and 428 MB at depth 8).
 */
interface Walk {
  readonly ancestors: Set<object>;
  objects: number;
}
const MAX_OBJECTS_WALKED = 2_000;
const newWalk = (): Walk => ({ ancestors: new Set(), objects: 0 });

/** `read()`, or what a log line says of a field that could not be read (a getter or a Proxy's trap that throws). */
const readable = (read: () => unknown): unknown => {
  try {
    return read();
  } catch (error) {
    return `[unreadable: ${error instanceof Error ? error.message : typeof error}]`;
  }
};

/** An array with every element after a secret name redacted too: Node's raw headers are [name, value, name, value]. */
const redactedArray = (values: readonly unknown[], depth: number, inError: boolean, walk: Walk): unknown[] =>
  values.map((v, i) => {
    const before = i > 0 ? values[i - 1] : undefined;
    return typeof before === 'string' && isSecretName(before) ? REDACTED : redactIn(v, depth + 1, inError, walk);
  });

/**
 * A copy of `value` with every secret-named field replaced (and a value after a secret name in an array), at any
 * depth of plain objects and errors (errorAsLogged). Inside an error, instances of other classes are walked as their
 * own fields, as JSON writes them (review 255: a config object's password on an error's field); outside one they are
 * left to their serializers (a request, a reply: walked, they lose what those read). Never throws: a field that cannot
 * be read is written as such (review 260: a throwing getter took the whole line of a 500 with it).
 */
export const redactSecrets = (value: unknown, depth = 0, inError = false): unknown => redactIn(value, depth, inError, newWalk());

const redactIn = (value: unknown, depth: number, inError: boolean, walk: Walk): unknown => {
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return value;
  if (walk.ancestors.has(value)) return '[Circular]';
  if (++walk.objects > MAX_OBJECTS_WALKED) return '[cut]';
  walk.ancestors.add(value);
  try {
    if (Array.isArray(value)) return redactedArray(value, depth, inError, walk);
    if (value instanceof Error) return errorIn(value, depth, walk);
    const plain = readable(() => isPlain(value));
    if (typeof plain === 'string') return plain;
    if (plain !== true && (!inError || readable(() => writesItself(value)) !== false)) return value;
    const copy: Record<string, unknown> = {};
    for (const k of readable(() => Object.keys(value)) as string[]) copy[k] = fieldAsLogged(k, readable(() => (value as Record<string, unknown>)[k]), depth, inError, walk);
    return copy;
  } finally {
    walk.ancestors.delete(value);
  }
};

/**
 * A field of a logged object: redacted by its name; a request's headers as a request's log line keeps them (the
 * short list, LOGGED_HEADERS), whatever object holds them, and its raw headers not at all: a client or a proxy may put
 * a credential in a header of any name (review 260: `x-api-key` and `proxy-authorization` of a request on an error).
 */
const fieldAsLogged = (name: string, value: unknown, depth: number, inError: boolean, walk: Walk): unknown => {
  if (isSecretName(name) || (name === 'rawHeaders' && Array.isArray(value))) return REDACTED;
  if (name === 'headers' && typeof value === 'object' && value !== null && !Array.isArray(value)) return readable(() => loggedHeaders(value as FastifyRequest['headers']));
  return redactIn(value, depth + 1, inError, walk);
};

/**
 * An error as a log line carries it (pino's `err` serializer writes every enumerable field of the error, past the
 * formatter that redacts, review 252): its type, message and stack, then its own fields, the errors of an
 * AggregateError (`aggregateErrors`, as pino wrote them, review 255) and its cause, each with secret-named fields
 * redacted, at any depth; its type, message and stack whatever else cannot be read.
 */
export const errorAsLogged = (error: Error, depth = 0): Record<string, unknown> => errorIn(error, depth, newWalk());

const errorIn = (error: Error, depth: number, walk: Walk): Record<string, unknown> => {
  const logged: Record<string, unknown> = {
    type: readable(() => error.constructor.name),
    message: readable(() => error.message),
    stack: readable(() => error.stack),
  };
  const keys = readable(() => Object.keys(error));
  for (const k of Array.isArray(keys) ? (keys as string[]) : []) {
    if (!(k in logged)) logged[k] = fieldAsLogged(k, readable(() => (error as unknown as Record<string, unknown>)[k]), depth, true, walk);
  }
  const inner = readable(() => (error as { errors?: unknown }).errors);
  if (Array.isArray(inner) && !('aggregateErrors' in logged)) logged['aggregateErrors'] = redactedArray(inner, depth, true, walk);
  const cause = readable(() => error.cause);
  if (cause !== undefined && !('cause' in logged) && depth < MAX_DEPTH) logged['cause'] = redactIn(cause, depth + 1, true, walk);
  return logged;
};

/**
 * The request headers a log line keeps: a short list known to hold no secret, and the authorization as
 * `[redacted]` (so a 401 in the log reads "had a header" or "had none"). Not every header: a client or a proxy may
 * put a credential in one of any name (`x-api-key`, `proxy-authorization`).
 */
const LOGGED_HEADERS = ['content-type', 'content-length', 'accept', 'user-agent', 'last-event-id'] as const;
const MAX_HEADER_CHARS = 200;

/**
 * Whether a header value a client chose may hold a token: a JWT, written plainly or escaped, anywhere in it (scanned
 * whole, before the cut: a token begun at character 150 left its first 50 in the log), or a word beginning as a
 * well-known secret token does, as the URL's path and query values are judged; one too long to scan counts as one.
 * `user-agent` and `last-event-id` were cut at 200 characters unscanned: a token sent as the User-Agent had its first
 * 200 characters logged (review 199).
 */
const holdsToken = (value: string): boolean =>
  value.length > MAX_SCANNED_CHARS || holdsJwtText(value) || holdsJwtText(asciiDecoded(value)) || beginsLikeASecretToken(value);

/**
 * `text` with every character outside printable ASCII written `\uXXXX`: JSON escapes U+0000-U+001F only, so a C1
 * control a client sent (U+009B, a one-character CSI) reached the log as itself, for a terminal reading it to act on
 * (review 381).
 */
const printableAscii = (text: string): string =>
  text.replace(/[^\x20-\x7e]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`);

const loggedHeaders = (headers: FastifyRequest['headers']): Record<string, string> => {
  const kept: Record<string, string> = {};
  if (typeof headers.authorization === 'string') kept['authorization'] = REDACTED;
  for (const name of LOGGED_HEADERS) {
    const value = headers[name];
    if (typeof value === 'string') kept[name] = holdsToken(value) ? REDACTED : printableAscii(value.slice(0, MAX_HEADER_CHARS));
  }
  return kept;
};

/**
 * The characters of a URL a log line keeps; past them it says how many it left out. A path segment may be kept whole
 * up to 2,048 characters (redact-url.ts), so a URL of many was logged whole at every request (review 381: 14 kB a line).
 */
export const MAX_LOGGED_URL_CHARS = 512;
const cutUrl = (url: string): string =>
  url.length <= MAX_LOGGED_URL_CHARS ? url : `${url.slice(0, MAX_LOGGED_URL_CHARS)}…(+${url.length - MAX_LOGGED_URL_CHARS} characters)`;

/**
 * What a refused request's completion line (`request completed`, the probe port's `request refused`) says of its
 * problem, under `res`: its code, a 401's or a 503's `reason`, a 400's rule names. Words of the service's own only,
 * never what the client sent (review 330: the log gave the status alone, so a revoked token read as a forged one).
 */
export interface RefusalLogged {
  readonly problem: string;
  readonly reason?: string;
  readonly rules?: readonly string[];
}

const refusalsLogged = new WeakMap<FastifyReply, RefusalLogged>();
const MAX_RULES_LOGGED = 10;

/** Notes what `reply`'s completion line says of the problem it answers (problems.ts, as the problem is sent). */
export const noteRefusal = (reply: FastifyReply, problem: { readonly status: number; readonly code: string; readonly extensions?: Readonly<Record<string, unknown>> }): void => {
  const { reason, errors } = problem.extensions ?? {};
  const rules = Array.isArray(errors)
    ? [...new Set(errors.map((e) => (e as { rule?: unknown }).rule).filter((r): r is string => typeof r === 'string'))].slice(0, MAX_RULES_LOGGED).map((r) => r.slice(0, 64))
    : [];
  refusalsLogged.set(reply, {
    problem: problem.code,
    // A token's or an overload's reason is one of the service's words; a 403's or a 422's may name identifiers.
    ...((problem.status === 401 || problem.status === 503) && typeof reason === 'string' ? { reason: reason.slice(0, 128) } : {}),
    ...(rules.length > 0 ? { rules } : {}),
  });
};

/**
 * A reply as a log line writes it: its status and, when it answered a problem, what noteRefusal kept. A plain object
 * (the HTTP parser's refusal, client-error-handler.ts, has no reply) is written as it is.
 */
const replyAsLogged = (res: FastifyReply | Record<string, unknown>): Record<string, unknown> => {
  if (isPlain(res)) return res as Record<string, unknown>;
  const reply = res as FastifyReply;
  return { statusCode: reply.statusCode, ...refusalsLogged.get(reply) };
};

/**
 * Fastify's pino logger: JSON lines, a request id on every line of a request (`reqId`), authorisation headers and
 * secret fields redacted (issue 12 "Logs"; SER-001 no secret in logs). test/http-logs-full-scenario.test.ts scans
 * the logs of a full scenario at trace level for every token and secret.
 */
export const loggerOptions = (level: string, stream?: NodeJS.WritableStream): FastifyServerOptions['logger'] => ({
  level,
  // Not pino's default (sonic-boom): a log destination that fails drops lines, it never hangs the service (review 81).
  stream: stream ?? stdoutLogDestination(),
  // Belt and braces for headers logged whole; `redactSecrets` covers any depth of plain objects.
  redact: {
    paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie', 'res.headers["set-cookie"]'],
    censor: REDACTED,
  },
  formatters: { log: (object: Record<string, unknown>) => redactSecrets(object) as Record<string, unknown> },
  serializers: {
    // Most errors arrive here already written by the formatter (redactSecrets); one that did not is written the same way.
    err: (error: unknown) => (error instanceof Error ? errorAsLogged(error) : error) as { type: string; message: string; stack: string },
    req: (req: FastifyRequest) => ({ method: req.method, url: cutUrl(redactedUrlOf(req)), remoteAddress: req.ip, headers: loggedHeaders(req.headers) }),
    res: replyAsLogged,
  },
});
