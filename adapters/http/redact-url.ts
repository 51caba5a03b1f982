import type { FastifyRequest } from 'fastify';
import { elidedOcspRequest } from './elided-ocsp-request.ts';
import { holdsJwtText } from './jwt-text.ts';
import { LIST_PARAMETERS, VALUE_SHAPES } from './query-value-shapes.ts';
import { queryParametersOf } from './route-query-parameters.ts';
import { beginsLikeASecretToken } from './secret-token-prefixes.ts';

// The scan for tokens lives in ./jwt-text.ts, since the shapes of values use it too.
export { holdsJwtText } from './jwt-text.ts';

export const REDACTED = '[redacted]';

/**
 * The longest URL component (a path segment, a query part) a log line examines: a longer one is `[redacted]` whole,
 * unread, so a client cannot make the service scan a long URL again and again (review 48: a 64 KiB `eyJ…` URL took
 * seconds). No value the routes take as one part is as long (entities' `cursor` is at most 512 characters); a longer
 * list of streams or types is logged as `stream=[redacted]`.
 */
export const MAX_SCANNED_CHARS = 2048;

/**
 * A URL component's ASCII escapes decoded, each on its own, a few times over (`%252E` is `%2E` is `.`): a malformed
 * escape elsewhere in the component, which makes the whole of it undecodable, hides nothing. (Secret names and tokens
 * are ASCII.)
 */
export const asciiDecoded = (text: string): string => {
  let out = text;
  for (let round = 0; round < 3 && out.includes('%'); round++) out = out.replace(/%([0-7][0-9A-Fa-f])/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return out;
};
/** Whether a URL component holds a token, written plainly or escaped (`%2E` for a dot, escaped twice, beside bad escapes). */
const holdsJwt = (component: string): boolean => holdsJwtText(component) || holdsJwtText(asciiDecoded(component));

/**
 * Whether a path segment holds a secret: a JWT, or a word beginning as another well-known secret token does
 * (`ghp_…`, `xoxb-…`, `AKIA…`: secret-token-prefixes.ts), written plainly or escaped. Review 219: only JWTs were
 * looked for, so `/v1/ghp_…` was logged whole, unlike the same value in a header or a query value.
 */
const holdsSecret = (segment: string): boolean =>
  beginsLikeASecretToken(segment) || beginsLikeASecretToken(asciiDecoded(segment)) || holdsJwt(segment);

/**
 * The query parameters the service's own routes take (their `querystring` schemas in ./routes/): the only names a log
 * line keeps, and the only values, an allow-list like the headers'. A client may put a secret under a name of its own
 * (`?sig=`, `?auth=`, an opaque token, a padded base64 token whose `=` looks like a name's), which a list of secret
 * names cannot foresee (SER-001: no secret in logs). test/http-logs-keep-query-values-of-the-services-own-parameters-only.test.ts
 * fails when a route documents a parameter this list does not hold, or the list holds one no route documents. Each
 * name's value is kept only in the shape ./query-value-shapes.ts gives it.
 */
export const LOGGED_QUERY_PARAMETERS: ReadonlySet<string> = new Set(Object.keys(VALUE_SHAPES));
/**
 * What no value of the service's own parameters holds, written or escaped: a second parameter smuggled inside one
 * (`limit=5;sig=…`, `limit=5?sig=…`, `limit=5#sig=…`; a fragment never reaches the server, but a URL logged may hold one).
 */
const NOT_IN_A_VALUE = /[;?#=]/;

/**
 * The longest value of one of the service's own parameters a log line keeps, but for the lists: the longest the
 * routes take is entities' `cursor` (512 characters); compliance's take 200, the rest are numbers, dates and words.
 */
const MAX_VALUE_CHARS = 512;

/**
 * Whether `value` has the shape of a value of the service's own parameter `name` (./query-value-shapes.ts), so a log
 * line may keep it: a few linear passes, none past MAX_VALUE_CHARS but a list's (MAX_SCANNED_CHARS).
 */
const keepsValue = (name: string, value: string): boolean => {
  if (value.length > (LIST_PARAMETERS.has(name) ? MAX_SCANNED_CHARS : MAX_VALUE_CHARS)) return false;
  if (NOT_IN_A_VALUE.test(value) || NOT_IN_A_VALUE.test(asciiDecoded(value)) || holdsJwt(value)) return false;
  // As the route reads it: `+` is a space (`Bearer+<token>` is no identifier), an escaped one a `+`.
  return VALUE_SHAPES[name]!(asciiDecoded(value.replaceAll('+', ' ')));
};

const redactedQuery = (query: string, takes: ReadonlySet<string>): string => {
  const seen = new Set<string>();
  return query
    .split('&')
    .map((part) => {
      if (part === '') return part;
      const eq = part.indexOf('=');
      // Matched as written, not decoded: an escaped name is not one of the service's. Any other part is redacted whole,
      // its name too (a padded base64 token `dGhp…leQ==` reads as a name followed by `=`).
      const name = eq < 0 ? part : part.slice(0, eq);
      if (eq < 0 || !LOGGED_QUERY_PARAMETERS.has(name)) return REDACTED;
      const again = seen.has(name) && !LIST_PARAMETERS.has(name);
      seen.add(name);
      // The name is one of the service's, so kept; its value only where the route takes it (review 52).
      return !again && takes.has(name) && keepsValue(name, part.slice(eq + 1)) ? part : `${name}=${REDACTED}`;
    })
    .join('&');
};

/**
 * The URL as a log line keeps it (SER-001): every path segment that holds a secret token replaced (a client may put a
 * token in the path, escaped or after `Bearer `: holdsSecret), and of the query, the service's own parameters only (LOGGED_QUERY_PARAMETERS),
 * with their values when the route takes the name (`takes`, ./route-query-parameters.ts; none for a 404) and the
 * value has the shape of one. Linear in the URL's length.
 */
export const redactUrl = (url: string, takes: ReadonlySet<string>): string => {
  const q = url.indexOf('?');
  const path = (q < 0 ? url : url.slice(0, q))
    .split('/')
    .map((segment) => (segment.length > MAX_SCANNED_CHARS || holdsSecret(segment) ? REDACTED : segment))
    .join('/');
  return q < 0 ? path : `${path}?${redactedQuery(url.slice(q + 1), takes)}`;
};

const redactedUrls = new WeakMap<FastifyRequest, string>();

/**
 * A request's URL redacted once, for its log lines, a 404's message and a problem's `instance` alike; an OCSP GET's
 * request elided (elided-ocsp-request.ts).
 */
export const redactedUrlOf = (request: FastifyRequest): string => {
  let redacted = redactedUrls.get(request);
  if (redacted === undefined) {
    redacted = redactUrl(elidedOcspRequest(request.url), queryParametersOf(request));
    redactedUrls.set(request, redacted);
  }
  return redacted;
};

/** The path of a request's URL, redacted, without its query (a message or a problem's `instance` names no parameter). */
export const redactedPathOf = (request: FastifyRequest): string => redactedUrlOf(request).split('?')[0]!;
