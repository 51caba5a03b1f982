import type { FastifyRequest, FastifyServerOptions } from 'fastify';

/**
 * Names of fields whose values never reach a log, wherever they sit in a logged object: bearer tokens and cookies,
 * and the secrets of the domain (PSKs, private and session keys, PINs). Matched on the whole name, ignoring case,
 * `_` and `-`, so `tokenId` (an identifier, useful when revoking) is still logged.
 */
const SECRET_NAMES = new Set([
  'token', 'accesstoken', 'idtoken', 'refreshtoken', 'jwt', 'bearer', 'apikey', 'clientsecret', 'psk', 'key', 'secret', 'pin', 'password',
  'passphrase', 'privatekey', 'sessionkey', 'authorization', 'cookie', 'setcookie',
]);
/**
 * A JSON Web Token in compact form (three base64url parts, the first a JSON header) anywhere in a text: redacted
 * whatever it is called and whatever surrounds it (`Bearer <jwt>`).
 */
const JWT_INSIDE = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/;
/**
 * A URL component's ASCII escapes decoded, each on its own, a few times over (`%252E` is `%2E` is `.`): a malformed
 * escape elsewhere in the component, which makes the whole of it undecodable, hides nothing. (Secret names and tokens
 * are ASCII.)
 */
const asciiDecoded = (text: string): string => {
  let out = text;
  for (let round = 0; round < 3 && out.includes('%'); round++) out = out.replace(/%([0-7][0-9A-Fa-f])/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return out;
};
/** Whether a URL component holds a token, written plainly or escaped (`%2E` for a dot, escaped twice, beside bad escapes). */
const holdsJwt = (component: string): boolean => JWT_INSIDE.test(component) || JWT_INSIDE.test(asciiDecoded(component));
const isSecretName = (name: string): boolean => SECRET_NAMES.has(name.toLowerCase().replace(/[-_]/g, ''));

export const REDACTED = '[redacted]';
const MAX_DEPTH = 8;

const isPlain = (value: object): boolean => {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
};

/** A copy of `value` with every secret-named field replaced; objects that are not plain data are left to serializers. */
export const redactSecrets = (value: unknown, depth = 0): unknown => {
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1));
  if (!isPlain(value)) return value;
  const copy: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) copy[k] = isSecretName(k) ? REDACTED : redactSecrets(v, depth + 1);
  return copy;
};

/**
 * The query parameters the service's own routes take (their `querystring` schemas in ./routes/): the only ones whose
 * values a log line keeps, an allow-list like the headers'. A client may put a secret under a name of its own
 * (`?sig=`, `?auth=`, an opaque token, a PSK in hex), which a list of secret names cannot foresee (SER-001: no secret
 * in logs). test/http-logs-keep-query-values-of-the-services-own-parameters-only.test.ts fails when a route documents
 * a parameter this list does not hold, or the list holds one no route documents.
 */
export const LOGGED_QUERY_PARAMETERS: ReadonlySet<string> = new Set([
  // tokens, entities, entity-graph, compliance, replay, events, enrolment, transparency
  'limit', 'after', 'includeExpired', 'kind', 'state', 'cursor', 'at', 'reason', 'from', 'to', 'actor', 'subscription', 'days',
  'now', 'order', 'full', 'type', 'stream', 'identifiers', 'predecessorId', 'position',
]);
/**
 * What a log line keeps of a name outside the list, shown so a reader sees what was sent: a short name-like word.
 * Anything else (a part with no `=`, which is as likely a bare token as a name; a long or odd name) is redacted whole.
 */
const NAME_LIKE = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;

const redactedQueryPart = (pair: string): string => {
  if (pair === '') return pair;
  const eq = pair.indexOf('=');
  const name = eq < 0 ? pair : pair.slice(0, eq);
  if (holdsJwt(name)) return REDACTED;
  // Matched as written, not decoded: an escaped name is not one of the service's, so its value is not kept.
  if (LOGGED_QUERY_PARAMETERS.has(name)) return eq >= 0 && holdsJwt(pair.slice(eq + 1)) ? `${name}=${REDACTED}` : pair;
  return eq >= 0 && NAME_LIKE.test(name) ? `${name}=${REDACTED}` : REDACTED;
};

/**
 * The URL as a log line keeps it: every path segment that holds a JWT replaced (a client may put a token in the path,
 * escaped or after `Bearer `), and of the query, the values of the service's own parameters only
 * (LOGGED_QUERY_PARAMETERS), a JWT among them replaced too.
 */
export const redactUrl = (url: string): string => {
  const q = url.indexOf('?');
  const path = (q < 0 ? url : url.slice(0, q))
    .split('/')
    .map((segment) => (holdsJwt(segment) ? REDACTED : segment))
    .join('/');
  if (q < 0) return path;
  return `${path}?${url.slice(q + 1).split('&').map(redactedQueryPart).join('&')}`;
};

/**
 * The request headers a log line keeps: a short list known to hold no secret, and the authorization as
 * `[redacted]` (so a 401 in the log reads "had a header" or "had none"). Not every header: a client or a proxy may
 * put a credential in one of any name (`x-api-key`, `proxy-authorization`).
 */
const LOGGED_HEADERS = ['content-type', 'content-length', 'accept', 'user-agent', 'last-event-id'] as const;
const MAX_HEADER_CHARS = 200;

const loggedHeaders = (headers: FastifyRequest['headers']): Record<string, string> => {
  const kept: Record<string, string> = {};
  if (typeof headers.authorization === 'string') kept['authorization'] = REDACTED;
  for (const name of LOGGED_HEADERS) {
    const value = headers[name];
    if (typeof value === 'string') kept[name] = value.slice(0, MAX_HEADER_CHARS);
  }
  return kept;
};

/**
 * Fastify's pino logger: JSON lines, a request id on every line of a request (`reqId`), authorisation headers and
 * secret fields redacted (issue 12 "Logs"; SER-001 no secret in logs). test/http-logs-full-scenario.test.ts scans
 * the logs of a full scenario at trace level for every token and secret.
 */
export const loggerOptions = (level: string, stream?: NodeJS.WritableStream): FastifyServerOptions['logger'] => ({
  level,
  ...(stream !== undefined ? { stream } : {}),
  // Belt and braces for headers logged whole; `redactSecrets` covers any depth of plain objects.
  redact: {
    paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie', 'res.headers["set-cookie"]'],
    censor: REDACTED,
  },
  formatters: { log: (object: Record<string, unknown>) => redactSecrets(object) as Record<string, unknown> },
  serializers: {
    req: (req: FastifyRequest) => ({ method: req.method, url: redactUrl(req.url), remoteAddress: req.ip, headers: loggedHeaders(req.headers) }),
  },
});
