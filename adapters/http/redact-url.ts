import type { FastifyRequest } from 'fastify';

export const REDACTED = '[redacted]';

/**
 * The longest URL component (a path segment, a query part) a log line examines: a longer one is `[redacted]` whole,
 * unread, so a client cannot make the service scan a long URL again and again (review 48: a 64 KiB `eyJ…` URL took
 * seconds). No value the routes take as one part is as long (entities' `cursor` is at most 512 characters); a longer
 * list of streams or types is logged as `stream=[redacted]`.
 */
export const MAX_SCANNED_CHARS = 2048;

const isBase64Url = (code: number): boolean =>
  (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39) || code === 0x5f || code === 0x2d;

/**
 * Whether a text holds a JSON Web Token in compact form (three base64url parts, the first a JSON header, `eyJ…`),
 * whatever surrounds it (`Bearer <jwt>`): what `/eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\/` finds, in one
 * pass over the text. That regex backtracks from every `eyJ` of a long run with no dot: quadratic (review 48).
 */
export const holdsJwtText = (text: string): boolean => {
  // Whether the current run of base64url characters follows the dot after a run holding `eyJ` (the first part).
  let afterDot = false;
  let runHasHeader = false;
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (isBase64Url(code)) {
      run++;
      if (!afterDot && !runHasHeader && run >= 3 && code === 0x4a && text.charCodeAt(i - 1) === 0x79 && text.charCodeAt(i - 2) === 0x65) runHasHeader = true;
      continue;
    }
    if (code === 0x2e && afterDot && run > 0) return true;
    if (code === 0x2e && !afterDot && runHasHeader) {
      afterDot = true;
    } else {
      afterDot = false;
    }
    runHasHeader = false;
    run = 0;
  }
  return false;
};

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
const holdsJwt = (component: string): boolean => holdsJwtText(component) || holdsJwtText(asciiDecoded(component));

/**
 * The query parameters the service's own routes take (their `querystring` schemas in ./routes/): the only names a log
 * line keeps, and the only values, an allow-list like the headers'. A client may put a secret under a name of its own
 * (`?sig=`, `?auth=`, an opaque token, a padded base64 token whose `=` looks like a name's), which a list of secret
 * names cannot foresee (SER-001: no secret in logs). test/http-logs-keep-query-values-of-the-services-own-parameters-only.test.ts
 * fails when a route documents a parameter this list does not hold, or the list holds one no route documents.
 */
export const LOGGED_QUERY_PARAMETERS: ReadonlySet<string> = new Set([
  // tokens, entities, entity-graph, compliance, replay, events, enrolment, transparency
  'limit', 'after', 'includeExpired', 'kind', 'state', 'cursor', 'at', 'reason', 'from', 'to', 'actor', 'subscription', 'days',
  'now', 'order', 'full', 'type', 'stream', 'identifiers', 'predecessorId', 'position',
]);
/** Parameters that are a position, a revision or a count wherever a route takes them: decimal digits. */
const DECIMAL_PARAMETERS: ReadonlySet<string> = new Set(['limit', 'after', 'position']);
/** The lists a route takes repeated (`?kind=node&kind=credential`); any other own name sent twice is not one of its values. */
const LIST_PARAMETERS: ReadonlySet<string> = new Set(['kind', 'type', 'stream']);
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

/** Whether `value` has the shape of a value of the service's own parameter `name`, so a log line may keep it. */
const keepsValue = (name: string, value: string): boolean => {
  if (DECIMAL_PARAMETERS.has(name)) return /^\d{1,19}$/.test(value);
  if (value.length > (LIST_PARAMETERS.has(name) ? MAX_SCANNED_CHARS : MAX_VALUE_CHARS)) return false;
  return !NOT_IN_A_VALUE.test(value) && !NOT_IN_A_VALUE.test(asciiDecoded(value)) && !holdsJwt(value);
};

const redactedQuery = (query: string): string => {
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
      return !again && keepsValue(name, part.slice(eq + 1)) ? part : `${name}=${REDACTED}`;
    })
    .join('&');
};

/**
 * The URL as a log line keeps it (SER-001): every path segment that holds a JWT replaced (a client may put a token in
 * the path, escaped or after `Bearer `), and of the query, the service's own parameters only (LOGGED_QUERY_PARAMETERS),
 * with their values when they have the shape of one. Linear in the URL's length.
 */
export const redactUrl = (url: string): string => {
  const q = url.indexOf('?');
  const path = (q < 0 ? url : url.slice(0, q))
    .split('/')
    .map((segment) => (segment.length > MAX_SCANNED_CHARS || holdsJwt(segment) ? REDACTED : segment))
    .join('/');
  return q < 0 ? path : `${path}?${redactedQuery(url.slice(q + 1))}`;
};

const redactedUrls = new WeakMap<FastifyRequest, string>();

/** A request's URL redacted once, for its log lines, a 404's message and a problem's `instance` alike. */
export const redactedUrlOf = (request: FastifyRequest): string => {
  let redacted = redactedUrls.get(request);
  if (redacted === undefined) {
    redacted = redactUrl(request.url);
    redactedUrls.set(request, redacted);
  }
  return redacted;
};

/** The path of a request's URL, redacted, without its query (a message or a problem's `instance` names no parameter). */
export const redactedPathOf = (request: FastifyRequest): string => redactedUrlOf(request).split('?')[0]!;
