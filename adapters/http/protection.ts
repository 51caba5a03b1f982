import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import type { FastifyRequest } from 'fastify';
import { duplicateNameIssue } from '../../domain/json-duplicate-names.ts';
import { validationError, type FieldIssue } from '../../domain/errors.ts';
import { bodyShapeIssue } from './json-body-shape.ts';
import { illFormedUnicodeIssue } from './json-ill-formed-unicode.ts';
import type { ServiceLimitsConfig } from './service-limits-config.ts';
import { watchEventLoopLag, type EventLoopLag } from './event-loop-lag.ts';
import type { App } from './context.ts';
import type { ServiceMetrics } from './metrics.ts';
import { HttpProblem, overloaded, rateLimited } from './problems.ts';

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Requests whose body the JSON parser below refused after reading it whole. Fastify calls a `parseAs: 'buffer'`
 * parser only once the body's stream ended with as many bytes as its length declared (content-type-parser.js,
 * rawBody's onEnd); a body past its limit, cut short or failing to arrive is refused by Fastify before the parser runs.
 */
const refusedReadWhole = new WeakSet<FastifyRequest>();

/** Probes answer even under load, or an orchestrator would restart a service that is only busy. */
export const SHED_EXEMPT = new Set(['/healthz', '/readyz', '/metrics']);

const routeOf = (request: FastifyRequest): string => request.routeOptions.url ?? 'unmatched';

/** Requests already counted in credence_http_rate_limited_total. */
const countedRateLimited = new WeakSet<FastifyRequest>();

/**
 * Counts `request` in credence_http_rate_limited_total, once: one refused for its address's spent budget of refused
 * tokens (auth/access-hook.ts) is over the address's rate limit too, and was counted by both (review 330: 10 429s
 * counted 20).
 */
export const countRateLimited = (metrics: Pick<ServiceMetrics, 'rateLimited'>, request: FastifyRequest): void => {
  if (countedRateLimited.has(request)) return;
  countedRateLimited.add(request);
  metrics.rateLimited(routeOf(request));
};

/** Per server: its event loop's lag, read from when it serves (`servingBegins`) until it closes. */
const loopLags = new WeakMap<App, EventLoopLag>();

const stopReadingLag = (app: App): void => {
  loopLags.get(app)?.stop();
  loopLags.delete(app);
};

/**
 * The service serves from now: its event loop's lag is read from now on (event-loop-lag.ts), so the start's own
 * work (the catch-up, the first CRLs), which blocks the loop, is never measured. A fresh service shed its first
 * requests for it as overloaded (found by the clean-clone CI, the demo on a folder with events). Called again, the
 * reading starts over. The reading stops as the server closes (installProtection's onClose hook).
 */
export const servingBegins = (app: App, limits: Pick<ServiceLimitsConfig, 'maxEventLoopDelayMs' | 'pressureSampleIntervalMs'>): void => {
  stopReadingLag(app);
  if (limits.maxEventLoopDelayMs > 0) loopLags.set(app, watchEventLoopLag(limits.pressureSampleIntervalMs));
};

/** The reading of a server's event loop lag, while it serves; none for one that never said it serves (`inject` alone). */
export const eventLoopLagOf = (app: App): EventLoopLag | undefined => loopLags.get(app);

/** The methods whose routes here take a body: any other is answered without reading one (review 95: a GET framed chunked was 415). */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** The request has a body a route reads, by its method and framing (RFC 9112 6.3): chunked, or a length other than 0. */
const carriesBody = (request: FastifyRequest): boolean => {
  if (!BODY_METHODS.has(request.method)) return false;
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && Number(length) !== 0);
};

/** A Content-Encoding absent, or listing `identity` only (RFC 9110 8.4: a list of codings, case-insensitive). */
const isIdentity = (header: string | string[] | undefined): boolean =>
  [header ?? []].flat().every((value) => value.split(',').every((coding) => ['', 'identity'].includes(coding.trim().toLowerCase())));

/**
 * A parameter of a media type (RFC 9110 5.6.6): a token name, then a token or a quoted string, whose `;` starts no
 * parameter. Linear: the alternatives of a quoted string's characters are disjoint.
 */
const PARAMETER = /;\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"?|[^;]*))?/g;

/**
 * The parameters of a Content-Type, their names lower-cased (RFC 9110 8.3.1: case-insensitive) and their values
 * unquoted; `repeated` names the first one given twice, where the reading stops. Review 219: the charset was read from
 * the first `charset` of `application/json; charset=utf-8; charset=latin1`, which another reader of the request, taking
 * the last, reads as Latin-1.
 */
const mediaTypeParameters = (contentType: string): { readonly values: ReadonlyMap<string, string>; readonly repeated?: string } => {
  const values = new Map<string, string>();
  for (const [, name, raw = ''] of contentType.matchAll(PARAMETER)) {
    const key = name!.toLowerCase();
    if (values.has(key)) return { values, repeated: key };
    values.set(key, raw.startsWith('"') ? raw.slice(1, raw.length > 1 && raw.endsWith('"') ? -1 : undefined).replace(/\\(.)/g, '$1') : raw.trim());
  }
  return { values };
};

/**
 * SER-001 "no cheap way to exhaust the service": JSON bodies within size, depth and value-count limits, each member
 * name once per object (RFC 7493 2.3), before any schema sees them; load shedding (503 + Retry-After) when the event
 * loop lags or memory runs high; a rate limit per authenticated role and subject, or per source address for callers
 * without a token (the device routes with a budget of their own per address). Registered before any route, so every
 * route gets the limits. The OCSP responder's routes answer a request the rate limit or the shedding refuses
 * `tryLater` instead of the problem thrown here (routes/ocsp-try-later.ts, review 82): an OCSP client reads
 * OCSPResponses only (RFC 6960 2.3).
 */
export const installProtection = async (app: App, limits: ServiceLimitsConfig, metrics: ServiceMetrics): Promise<void> => {
  // Only JSON is accepted: every other content type is 415 (route modules that need another add a parser).
  app.removeAllContentTypeParsers();
  const parseJson = app.getDefaultJsonParser('error', 'error');
  const jsonLimits = { maxDepth: limits.jsonMaxDepth, maxValues: limits.jsonMaxValues };
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: limits.bodyLimitBytes }, (request, body, parsed) => {
    const done = (error: Error | null, value: unknown): void => {
      if (error !== null) refusedReadWhole.add(request);
      parsed(error, value);
    };
    // RFC 8259 8.1: JSON is UTF-8. Another charset is refused rather than read as UTF-8, and bytes that are not UTF-8
    // are refused rather than replaced with U+FFFD, so a field's text is never other than what was sent (found in
    // review).
    // Each parameter is named once (preParsing, below), so this is the only charset any reader finds.
    const charset = mediaTypeParameters(request.headers['content-type'] ?? '').values.get('charset');
    if (charset !== undefined && charset.toLowerCase() !== 'utf-8' && charset.toLowerCase() !== 'utf8') {
      return done(new HttpProblem(415, 'unsupported_media_type', 'send application/json in UTF-8 (RFC 8259 8.1)'), undefined);
    }
    let text: string;
    try {
      text = UTF8.decode(body as Buffer);
    } catch {
      return done(validationError([{ path: 'body', rule: 'utf8', message: 'is not valid UTF-8 (RFC 8259 8.1)' }], 'request body'), undefined);
    }
    // Depth, value count and prototype names are judged on the text, so that a body refused for them is never parsed
    // (json-body-shape.ts); secure-json-parse still refuses a prototype name should one get past.
    // A route that takes no body (`DELETE /v1/tokens/{id}`, `DELETE /v1/session`) called with no body is called with
    // none, whatever Content-Type a client sends on every request (review 328: it was `400 the JSON body is empty`).
    if (text.length === 0 && request.routeOptions.schema?.body === undefined) return done(null, undefined);
    const refuse = (issue: FieldIssue) => done(validationError([{ ...issue, path: issue.path ? `body.${issue.path}` : 'body' }], 'request body'), undefined);
    const shape = bodyShapeIssue(text, jsonLimits);
    if (shape !== undefined) return refuse(shape);
    parseJson(request, text, (error, value) => {
      if (error) return done(error, undefined);
      const duplicate = duplicateNameIssue(text);
      if (duplicate !== undefined) return refuse(duplicate);
      // Valid UTF-8 can still escape a lone surrogate ("\ud800"), which a SQLite read model reads back as U+FFFD: the
      // same promise, held for what the escapes stand for (review 92).
      const illFormed = illFormedUnicodeIssue(value);
      if (illFormed !== undefined) return refuse(illFormed);
      done(null, value);
    });
  });

  // Fastify answers every parser error `Connection: close` ("the client may send more data"), and then runs the
  // onError hooks, before the error handler and any onSend hook. A body this parser refused was read whole, so nothing
  // more comes: the connection is kept for the next request (review 342; review 166: only an unread or large body
  // closes it). The onSend hook (server.ts) still closes it when the service is closing or the caller is over its rate.
  app.addHook('onError', async (request, reply) => {
    if (refusedReadWhole.has(request) && reply.getHeader('connection') === 'close') reply.removeHeader('connection');
  });

  // A body whose Content-Length is past its route's limit (a device route's is its own, `deviceBodyLimit`)
  // is refused naming that limit, unread; a body sent without a length is cut off by Fastify at the same limit. The
  // connection is closed with the answer, as Fastify's own check closes it: kept open, Node would read and discard
  // every byte the length declared (review 77).
  app.addHook('preParsing', async (request, reply) => {
    const limit = request.routeOptions.bodyLimit;
    if (limit !== undefined && Number(request.headers['content-length']) > limit) {
      reply.header('connection', 'close');
      throw new HttpProblem(413, 'payload_too_large', `the request body is larger than the ${limit} bytes this route accepts`);
    }
    // A parameter named twice leaves the body's type to whichever a reader takes (review 219: the first charset was
    // judged, the body read as UTF-8, while another reader takes the last): refused unread, naming it, for any parser.
    const repeated = carriesBody(request) ? mediaTypeParameters(request.headers['content-type'] ?? '').repeated : undefined;
    if (repeated !== undefined) {
      reply.header('connection', 'close');
      throw new HttpProblem(415, 'unsupported_media_type', `the Content-Type names its parameter \`${repeated.slice(0, 64)}\` more than once: send each parameter once`);
    }
    // No content coding is decoded here: a gzip body was refused as not UTF-8, and a JSON body declared `br` was run
    // as if it were not (review 92). Refused unread, as above, saying which coding is read (RFC 9110 15.5.16).
    if (carriesBody(request) && !isIdentity(request.headers['content-encoding'])) {
      reply.header('connection', 'close');
      throw new HttpProblem(415, 'unsupported_media_type', 'send the request body without a Content-Encoding (or `identity`): the service decodes no content coding', {}, {
        'accept-encoding': 'identity',
      });
    }
  });

  // The event loop's lag is judged here, not by under-pressure, which reads a sample without readings as Infinity
  // (event-loop-lag.ts); before memory, as under-pressure did. Refusals, here and below, are counted once with every
  // other as the 503 is sent (server.ts, onResponse; an OCSP route's `tryLater` in routes/ocsp-try-later.ts).
  app.addHook('onRequest', async (request) => {
    const lag = loopLags.get(app);
    if (lag === undefined || lag.lagMs <= limits.maxEventLoopDelayMs || SHED_EXEMPT.has(routeOf(request))) return;
    throw overloaded(limits.retryAfterSeconds, 'eventLoopDelay');
  });
  app.addHook('onClose', async () => stopReadingLag(app));
  await app.register(underPressure, {
    // 0: off; the lag is judged above. Under-pressure judges memory.
    maxEventLoopDelay: 0,
    maxHeapUsedBytes: limits.maxHeapUsedBytes,
    maxRssBytes: limits.maxRssBytes,
    sampleInterval: limits.pressureSampleIntervalMs,
    retryAfter: limits.retryAfterSeconds,
    pressureHandler: (request, _reply, type) => {
      if (SHED_EXEMPT.has(routeOf(request))) return undefined;
      return Promise.reject(overloaded(limits.retryAfterSeconds, type));
    },
  });

  await app.register(rateLimit, {
    global: true,
    // Authentication ran first (onRequest, app level): a token's role and subject share one budget over all its
    // connections and addresses; without one, the source address does. The role too: an admin may issue an
    // integrator token under an operator's subject, whose requests must not spend that operator's budget (review).
    // The device routes (`access: 'device'`) share a budget of their own per address, of the same size: 404 scans and
    // other token-less requests from the address (a carrier NAT, common for cellular IoT) spent the devices' budget,
    // which left their hellos 429 for the window (review 437), and device traffic spends none of theirs.
    keyGenerator: (request) => {
      if (request.principal !== undefined) return `principal:${request.principal.role}:${request.principal.subject}`;
      return `${request.routeOptions.config?.access === 'device' ? 'device' : 'address'}:${normalizeIP(request.ip)}`;
    },
    max: (_request, key) => (key.startsWith('principal:') ? limits.rateLimitPerPrincipal : limits.rateLimitPerAddress),
    timeWindow: limits.rateLimitWindowMs,
    // Bounded memory: the least recently seen keys are forgotten first.
    cache: 10_000,
    onExceeded: (request) => countRateLimited(metrics, request),
    errorResponseBuilder: (_request, context) => rateLimited(Math.max(1, Math.ceil(context.ttl / 1000))),
  });
};
