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
 * The URL with the values of secret-named query parameters, and every path segment or query part that holds a JWT,
 * replaced (a client may put a token in `?access_token=`, under a name of its own, after `Bearer `, escaped, or in
 * the path).
 */
export const redactUrl = (url: string): string => {
  const q = url.indexOf('?');
  const path = (q < 0 ? url : url.slice(0, q))
    .split('/')
    .map((segment) => (holdsJwt(segment) ? REDACTED : segment))
    .join('/');
  if (q < 0) return path;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      if (holdsJwt(name)) return REDACTED;
      return eq >= 0 && (isSecretName(asciiDecoded(name)) || holdsJwt(pair.slice(eq + 1))) ? `${name}=${REDACTED}` : pair;
    });
  return `${path}?${params.join('&')}`;
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
