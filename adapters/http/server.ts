import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { validationError } from '../../domain/errors.ts';
import { limitConnections, openFilesLimit, RESERVED_DESCRIPTORS } from './connection-limits.ts';
import { PROBE_MAX_CONNECTIONS } from './probe-server.ts';
import { refusedTokenBudget } from './auth/refused-token-budget.ts';
import { installAccessHook } from './auth/access-hook.ts';
import type { ServiceConfig } from './config.ts';
import { refuseForwardedNonAddresses, trustProxyOf } from './trust-proxy.ts';
import type { App, RouteModule, ServiceContext } from './context.ts';
import { ACCESS_EXTENSION, documentAccess } from './openapi-refusals.ts';
import { documentObject, documentTransform } from './openapi-transform.ts';
import { servedOpenApiDocument } from './openapi-document.ts';
import { loggerOptions } from './logging.ts';
import { normalizeIP } from '@fastify/rate-limit';
import { ApiRequestLog, refusalSampler, sampleTheRefusalOf } from './refusal-sampling.ts';
import { closeTheConnectionOfA429, refuseUnmatchedBeforeTheBody } from './refuse-unmatched.ts';
import { redactedPathOf } from './redact-url.ts';
import { answerWithProblem, HttpProblem, overloaded, routeNotFound, sendFrameworkProblem, sendProblem } from './problems.ts';
import { countRateLimited, installProtection } from './protection.ts';
import { boundUnsentAnswers } from './unsent-answers.ts';
import { nodeHttpOptions, refuseAmbiguousRequestHeads } from './request-head.ts';
import { parseQueryString, refuseMalformedQueryEscapes } from './query-string.ts';
import { takeNoQueryByDefault } from './no-query-by-default.ts';
import { refuseConditionalWrites } from './conditional-requests.ts';
import { baselineHeaders } from './baseline-headers.ts';
import { answerClientError, reportClientErrors } from './client-error-handler.ts';
import { MAX_PATH_PARAM_CHARS } from './path-params.ts';
import { genReqId } from './request-id.ts';
import { routeModulesOf } from './routes/index.ts';
import type { StartPhase } from './routes/health.ts';
import { consoleRoutesFrom } from './routes/console.ts';
import { CONSOLE_DIST } from './console-bundle-freshness.ts';
import { ocspRouterRefusal, sendOcspRefusal } from './routes/ocsp-url.ts';
import { bodyLeftUnread, closeConnectionsOfUnreadBodies, passUnmetExpectationsOn, refuseUnmetExpectations, withholdContinueUntilTheBodyIsRead } from './unread-body.ts';

export const DOCS_PREFIX = '/docs';
const API_VERSION = '1.0.0';
// The pattern the OpenAPI document declares: the rule documented and the rule enforced are one.
export { ACCESS_EXTENSION, MAX_PATH_PARAM_CHARS };

export interface BuildServerOptions {
  readonly context: ServiceContext;
  readonly config: ServiceConfig;
  /** Where the JSON log lines go (default stdout); tests pass a stream and read it. */
  readonly logStream?: NodeJS.WritableStream;
  /** Route modules registered after those of API v1 (tests add their own). */
  readonly routes?: readonly RouteModule[];
  /** The web console's bundle served at `/` (default CONSOLE_DIST; tests pass a folder of their own). */
  readonly consoleDist?: string;
  /**
   * The start's phase while it has not finished (start.ts), else undefined: the port is bound before it has (review
   * 422), and serves nothing but /healthz meanwhile (`serveNothingUntilStarted`). Without it, served from the start.
   */
  readonly startPhase?: () => StartPhase | undefined;
}

/** Answered while the start has not finished: /healthz, and /readyz, which says `starting` itself (routes/health.ts). */
const SERVED_WHILE_STARTING: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

/**
 * Review 422: the start binds the API's port, then checks the address bound and starts the PKI publisher, either of which
 * can still refuse the start (review 231: a damaged CRL number file). Meanwhile /readyz said ready and every route
 * served, and a start that then failed had told its load balancer it was ready and answered API calls. Until it has
 * finished, every request but /healthz and /readyz is 503 `starting` with Retry-After (an OCSP route's is `tryLater`,
 * routes/ocsp-try-later.ts), before the rate limit, the token or the body is looked at; /readyz is 503 `starting`.
 */
const serveNothingUntilStarted = (app: App, startPhase: () => StartPhase | undefined): void => {
  app.addHook('onRequest', async (request) => {
    if (startPhase() === undefined || SERVED_WHILE_STARTING.has(request.routeOptions.url ?? '')) return;
    // Sampled as a 429 is (refusal-sampling.ts: each wrote a whole line, and no rate limit bounds them).
    sampleTheRefusalOf(request);
    throw new HttpProblem(503, 'starting', 'the service is starting and serves nothing yet; retry in a moment', {}, { 'retry-after': '1' });
  });
};


// The path as the log writes it: a detail never carries a secret, and a caller may put a token in a path (review 33).
const noRoute = (request: FastifyRequest): HttpProblem => routeNotFound(`no route ${request.method} ${redactedPathOf(request).slice(0, 200)}`);

/**
 * A JSON body sent to a route that takes none (`DELETE /v1/tokens/{id}`, `DELETE /v1/session`) is refused, as an
 * unknown field of a body is: the caller meant something the route will not do (found in review).
 */
const refuseBodiesOfRoutesWithout = (app: App): void => {
  app.addHook('preValidation', async (request) => {
    if (request.body === undefined || request.routeOptions.schema?.body !== undefined) return;
    if (!(request.headers['content-type'] ?? '').toLowerCase().startsWith('application/json')) return;
    throw validationError([{ path: 'body', rule: 'no_body', message: `${request.method} ${request.routeOptions.url} takes no body` }], 'request');
  });
};

/**
 * The HTTP service (Fastify): zod schemas validate, serialise and document every route (OpenAPI 3.1 at
 * /openapi.json, a docs page at /docs), every route declares who may call it, and every refusal is problem+json.
 * Not listening yet: `startService` (start.ts) listens and owns the shutdown.
 */
export const buildServer = async (options: BuildServerOptions): Promise<App> => {
  const { limits } = options.config;
  // Its counts go to the server's logger, read once the server is built (they are said as a window ends or it closes).
  const sampler = refusalSampler({ windowMs: limits.rateLimitWindowMs, log: () => app.log });
  const app = Fastify({
    // A request without Host is refused as a problem (request-head.ts), not with Node's bare 400; the request
    // timeout is given to Node as it builds the server, the only way it bounds a slow body in time (request-head.ts).
    http: nodeHttpOptions(limits),
    logger: loggerOptions(options.config.logLevel, options.logStream),
    // One line per request as it completes, none for a probe answered, 429s and unmatched paths sampled per address
    // (refusal-sampling.ts; review 381: two lines for every request let a stranger fill the log).
    logController: new ApiRequestLog(sampler),
    genReqId,
    requestIdHeader: false,
    bodyLimit: limits.bodyLimitBytes,
    trustProxy: trustProxyOf(options.config),
    connectionTimeout: limits.connectionTimeoutMs,
    // Fastify sets it on the server once built, so it must say what nodeHttpOptions said (its default, 0, is none).
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // A query value's escapes that do not decode are refused, not read as sent (query-string.ts).
    routerOptions: { maxParamLength: MAX_PATH_PARAM_CHARS, querystringParser: parseQueryString },
    // A malformed URL or an overlong path parameter, refused by the router before any route or hook: problem+json
    // that does not quote the path (Fastify's own answer does), counted with the other refusals.
    frameworkErrors: (error, request, reply) => {
      // No onSend hook either: said here, as it says it (closeConnectionsOfUnreadBodies closes the connection).
      if (bodyLeftUnread(request.raw)) reply.header('connection', 'close');
      // An OCSP client reads OCSPResponses only (RFC 6960 2.3): one sent to an OCSP URL gets one (routes/ocsp-url.ts).
      // No route, so no onSend hook: the baseline is applied here (the refusal's own Cache-Control, set after, stands).
      const ocsp = ocspRouterRefusal(request);
      if (ocsp !== undefined) {
        baselineHeaders(request, reply);
        return sendOcspRefusal(reply, request, ocsp);
      }
      const sent = sendFrameworkProblem(reply, request, error);
      options.context.metrics.requestRefused(reply.statusCode, 'unmatched');
      return sent;
    },
    // Refused by the HTTP parser, before there is a request: problem+json too (Fastify's own answer is plain JSON).
    clientErrorHandler: answerClientError,
    // Closing: idle sockets are closed, requests in flight finish; a new request on a kept-alive socket gets our
    // own 503 problem (below) rather than Fastify's plain JSON.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
  }).withTypeProvider<ZodTypeProvider>();
  reportClientErrors(app.server, { metrics: options.context.metrics, log: app.log, logs: sampler.logs });
  app.addHook('onClose', async () => sampler.flush());
  // A request its client gave up before any answer writes no `request completed`: said here, so that it leaves a line
  // as `incoming request` did, through the sampler (a stranger may abort at will).
  // One of a route's (an event stream's, a command's whose body stopped) is its request's only line: logged whole, as
  // its rate limit bounds it; only an unmatched one is sampled (review 389: the shared budget hid an auditor's stream).
  app.addHook('onRequestAbort', async (request) => {
    if (request.routeOptions.url !== undefined || sampler.logs(normalizeIP(request.ip))) request.log.info({ req: request }, 'request aborted');
  });
  closeConnectionsOfUnreadBodies(app.server);
  withholdContinueUntilTheBodyIsRead(app.server);
  passUnmetExpectationsOn(app.server);
  // The probe listener's slots (probePort) come out of the same open-files limit, not out of the reserve kept for the
  // service's own files (found in review: they halved it).
  const openFiles = openFilesLimit();
  const connections = limitConnections(app.server, limits, {
    openFiles: openFiles === undefined || options.config.probePort === undefined ? openFiles : openFiles - PROBE_MAX_CONNECTIONS,
    onRefused: (reason) => options.context.metrics.connectionRefused(reason),
  });
  if (connections.lowered !== undefined) {
    app.log.warn(
      { configured: connections.lowered.configured, openFilesLimit: openFiles },
      `limits.maxConnections lowered to ${connections.maxConnections}: the process may open ${openFiles} files (ulimit -n), ` +
        `and keeps ${RESERVED_DESCRIPTORS} for its own${options.config.probePort === undefined ? '' : ` and ${PROBE_MAX_CONNECTIONS} for the probe port`}; raise the open-files limit to allow more`,
    );
  }
  try {
    await configure(app, options);
  } catch (error) {
    // A route refused at registration (no config.access, a bad schema): release what the plugins started.
    await app.close().catch(() => {});
    throw error;
  }
  return app;
};

const configure = async (app: App, options: BuildServerOptions): Promise<void> => {
  const { context, config, routes = [], consoleDist = CONSOLE_DIST } = options;
  const { limits } = config;
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  app.setErrorHandler(answerWithProblem);
  // Before anything reads a header: one that Node kept the first of, or a missing Host, is refused.
  refuseAmbiguousRequestHeads(app);
  // Once closing, a kept-alive connection would hold the close until the client drops it: each response says
  // `Connection: close`, and a connection a long-lived response leaves idle is closed as soon as it is.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async () => {
    if (closing) throw overloaded(limits.retryAfterSeconds, 'shutting down');
  });
  if (options.startPhase !== undefined) serveNothingUntilStarted(app, options.startPhase);
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('x-request-id', request.id);
    baselineHeaders(request, reply);
    // A caller over its rate limit keeps no connection open (refuse-unmatched.ts). Nor does an answer sent before
    // a chunked or large body, or one 100 Continue was withheld for, was read (bodyLeftUnread in unread-body.ts;
    // closeConnectionsOfUnreadBodies ends the socket).
    closeTheConnectionOfA429(reply);
    if (closing || bodyLeftUnread(request.raw)) reply.header('connection', 'close');
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode >= 400) context.metrics.requestRefused(reply.statusCode, request.routeOptions.url ?? 'unmatched');
    if (closing) setImmediate(() => app.server.closeIdleConnections());
  });

  // The client's address first (what the rate limit and the access hook count by), load shedding, then authentication
  // (the rate limit's key needs the principal), then the routes.
  if (config.trustProxy.length > 0) refuseForwardedNonAddresses(app);
  // Before the rest of the protection too: past the bound on answers clients have not taken, a new request costs nothing.
  boundUnsentAnswers(app, limits);
  await installProtection(app, limits, context.metrics);
  installAccessHook(app, context.access, {
    publicPrefixes: [DOCS_PREFIX],
    refusedTokens: refusedTokenBudget({ max: limits.rateLimitPerAddress, windowMs: limits.rateLimitWindowMs }),
    onRateLimited: (request) => countRateLimited(context.metrics, request),
  });
  documentAccess(app);
  const endNoQueryDefault = takeNoQueryByDefault(app);
  refuseMalformedQueryEscapes(app);
  refuseConditionalWrites(app);
  refuseUnmetExpectations(app);
  refuseUnmatchedBeforeTheBody(app, noRoute);
  refuseBodiesOfRoutesWithout(app);
  app.setNotFoundHandler((request, reply) => sendProblem(reply, request, noRoute(request)));

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Credence API',
        version: API_VERSION,
        description:
          'The credential lifecycle of an M2M/IoT fleet as a service. Refusals are RFC 9457 application/problem+json. ' +
          'A path no operation here matches is 404 `route_not_found`; 404 `not_found` says the entity, token or resource asked for does not exist.',
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
    transform: documentTransform,
    transformObject: documentObject,
  });
  // The docs page shares the console's origin (and so its sessionStorage, where a signed-in token lives): it gets a
  // CSP as strict as the page allows (the plugin's: scripts from 'self' only, its page has no inline script), no framing, nothing fetched
  // from elsewhere (the plugin's default names an outside validator and upgrades every request to https, which a
  // service on plain http on 127.0.0.1 cannot serve).
  const openApiDocument = servedOpenApiDocument(app);
  // Its answers, its static files' too, are isolated from other windows as the console's page is (COOP same-origin):
  // a window that opened it, or that it opens, keeps no handle on it (review 363). In a context of their own, so that
  // the hook is on the docs' routes only. No `require-trusted-types-for 'script'` as the console has: Swagger UI writes
  // HTML into the page as it renders, and under it showed nothing (checked in Chromium); so the console does not link
  // it, and docs/console.md says to open it in a tab of its own.
  await app.register(async (docs) => {
    docs.addHook('onRequest', async (_request, reply) => {
      reply.header('cross-origin-opener-policy', 'same-origin');
    });
    await docs.register(swaggerUi, {
      routePrefix: DOCS_PREFIX,
      uiConfig: { validatorUrl: null },
      // The docs page reads the document at /docs/json, which the plugin serialises at each request: served from the
      // same text as /openapi.json (openapi-document.ts).
      uiHooks: {
        onRequest: async (request: FastifyRequest, reply: FastifyReply) => {
          if (request.routeOptions.url === `${DOCS_PREFIX}/json`) return openApiDocument(request, reply);
        },
      },
      staticCSP: true,
      transformStaticCSP: (header) =>
        header
          .replace("frame-ancestors 'self'", "frame-ancestors 'none'")
          .replace(' validator.swagger.io', '')
          .replace('upgrade-insecure-requests;', "form-action 'none';")
          .replace(/ https:/g, '')
          // Swagger UI sets style attributes as it renders; styles cannot run code, scripts stay 'self' only.
          .replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"),
    });
  });
  app.get('/openapi.json', { schema: { hide: true }, config: { access: 'public' } }, async (request, reply) => openApiDocument(request, reply));

  for (const register of [...routeModulesOf(config, options.startPhase), consoleRoutesFrom(consoleDist)]) await register(app, context);
  // The service's own routes take no query they do not declare; a caller's own keep what they declare.
  endNoQueryDefault();
  for (const register of routes) await register(app, context);
};
