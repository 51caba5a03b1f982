import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import Fastify, { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ServiceConfig } from './config.ts';
import { refuseForwardedNonAddresses, trustProxyOf } from './trust-proxy.ts';
import { baselineHeaders } from './baseline-headers.ts';
import { answerClientError, reportClientErrors } from './client-error-handler.ts';
import { limitConnections } from './connection-limits.ts';
import type { App, ServiceContext } from './context.ts';
import { loggerOptions } from './logging.ts';
import { answerWithProblem, type HttpProblem, rateLimited, routeNotFound, sendFrameworkProblem, sendProblem } from './problems.ts';
import { redactedPathOf } from './redact-url.ts';
import { nodeHttpOptions, refuseAmbiguousRequestHeads } from './request-head.ts';
import { healthRoutesWith, type StartPhase } from './routes/health.ts';
import { genReqId } from './request-id.ts';
import { passUnmetExpectationsOn, refuseUnmetExpectations } from './unread-body.ts';
import { takeNoQueryByDefault } from './no-query-by-default.ts';
import { isSampledRefusal, refusalSampler, type RefusalSampler } from './refusal-sampling.ts';
import { closeTheConnectionOfA429, refuseUnmatchedBeforeTheBody } from './refuse-unmatched.ts';

/**
 * Connections the probe listener keeps open at once, and from one address: an orchestrator's probes and a metrics
 * scraper hold a few; the bound is there so that the listener, if reachable by others, cannot take the process's files.
 */
export const PROBE_MAX_CONNECTIONS = 64;
export const PROBE_MAX_CONNECTIONS_PER_ADDRESS = 16;

/**
 * A refusal on the probe port, counted and logged as the API port's are (review 276: its 429s and 404s went
 * uncounted and unsaid). `listener="probes"`: /readyz and unmatched paths are the API port's routes too. Counted every
 * time; logged one line at the level of the API's request lines, with the request (its URL redacted) and the status.
 * A 429 or a refusal of an unmatched path goes through the API port's sampler, by the API port's rule (refusal-sampling.ts
 * isSampledRefusal): the first few of an address in a window, then one line saying how many were not (review 429:
 * every one was logged, and 1,000 requests wrote 995 lines, 577 KB). A probe route's own refusal (a 417 on /readyz) is
 * logged every time (review 433: a flood of unknown paths from the kubelet's address left them unsaid).
 */
const sayRefused = (context: ServiceContext, sampler: RefusalSampler, request: FastifyRequest, reply: FastifyReply): void => {
  const route = request.routeOptions.url;
  context.metrics.requestRefused(reply.statusCode, route ?? 'unmatched', 'probes');
  if (isSampledRefusal(reply.statusCode, route) && !sampler.logs(normalizeIP(request.ip))) return;
  request.log.info({ listener: 'probes', req: request, res: reply, responseTime: reply.elapsedTime }, 'request refused');
};

// The path as the API port's 404 says it (redactedPathOf): a token put in the path never comes back (review 49).
const noRoute = (request: FastifyRequest): HttpProblem =>
  routeNotFound(`no route ${request.method} ${redactedPathOf(request).slice(0, 200)} on the probe port (/healthz, /readyz, /metrics)`);

/**
 * `/healthz`, `/readyz` and `/metrics` on a port of their own (`probePort`), with connection slots of their own:
 * on the API's port a flood that fills `limits.maxConnections` fails the probes too, and an orchestrator then
 * restarts a service that was only under attack (SER-001; left from the last review round). Nothing else is
 * served here: no API route, no token, no body. The API's port keeps /healthz and /readyz as well (load balancers
 * probe it), not /metrics: with a probe port that is served here only (routes/index.ts, review 90).
 */
export const buildProbeServer = async (options: {
  readonly context: ServiceContext;
  readonly config: ServiceConfig;
  readonly logStream?: NodeJS.WritableStream;
  /** Listening before the start has finished (start.ts): /readyz says `catch_up`, then `starting`, meanwhile. */
  readonly startPhase?: () => StartPhase | undefined;
}): Promise<App> => {
  const { limits } = options.config;
  // Its counts go to the listener's logger, read once it is built (said as a window ends or the listener closes).
  const sampler = refusalSampler({ windowMs: limits.rateLimitWindowMs, log: () => app.log.child({ listener: 'probes' }) });
  const app: App = Fastify({
    // The API port's: a request without Host, or with two, is a problem with the baseline, and a slow request is cut
    // at limits.requestTimeoutMs (request-head.ts).
    http: nodeHttpOptions(limits),
    logger: loggerOptions(options.config.logLevel, options.logStream),
    // The API port's ids (a caller's short id, else a UUID), not Fastify's counter: req-1, req-2, … started over at
    // each restart, so two refusals' lines shared an id (review 330).
    genReqId,
    requestIdHeader: false,
    // A probe every few seconds would fill the log with its lines: only refusals are logged (sayRefused, below).
    logController: new LogController({ disableRequestLogging: true }),
    // Probes send no body: anything past a few bytes is refused unread.
    bodyLimit: 1024,
    trustProxy: trustProxyOf(options.config),
    connectionTimeout: limits.connectionTimeoutMs,
    // As nodeHttpOptions says: Fastify sets it again once the server is built.
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Refused by the router before any route or hook: counted and said here, as the API port does (server.ts).
    frameworkErrors: (error, request, reply) => {
      const sent = sendFrameworkProblem(reply, request, error);
      sayRefused(options.context, sampler, request, reply);
      return sent;
    },
    // The API port's handler: a parser refusal is problem+json with the baseline, not Fastify's plain JSON.
    clientErrorHandler: answerClientError,
    forceCloseConnections: true,
  }).withTypeProvider<ZodTypeProvider>();
  limitConnections(
    app.server,
    { maxConnections: PROBE_MAX_CONNECTIONS, maxConnectionsPerAddress: PROBE_MAX_CONNECTIONS_PER_ADDRESS, requestTimeoutMs: limits.requestTimeoutMs },
    { onRefused: (reason) => options.context.metrics.connectionRefused(reason, 'probes') },
  );
  reportClientErrors(app.server, { metrics: options.context.metrics, log: app.log, listener: 'probes', logs: sampler.logs });
  app.addHook('onClose', async () => sampler.flush());
  // An Expect other than 100-continue is the API port's 417 problem here too, not Node's bare 417 (review 202).
  passUnmetExpectationsOn(app.server);
  try {
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    app.removeAllContentTypeParsers();
    app.setErrorHandler(answerWithProblem);
    refuseAmbiguousRequestHeads(app);
    // The API port's baseline, from the same function: a probe's answers, its 404 and its 429 carried none (review 50's
    // follow-up).
    app.addHook('onSend', async (request, reply, payload) => {
      reply.header('x-request-id', request.id);
      baselineHeaders(request, reply);
      // A caller over its rate limit keeps no connection open, as on the API port (review 429).
      closeTheConnectionOfA429(reply);
      return payload;
    });
    app.addHook('onResponse', async (request, reply) => {
      if (reply.statusCode >= 400) sayRefused(options.context, sampler, request, reply);
    });
    // noRoute: a token put in the path never comes back (SER-001, review 49). Unknown paths are refused before this
    // (refuseUnmatchedBeforeTheBody, below); kept for any the hook lets through.
    app.setNotFoundHandler((request, reply) => sendProblem(reply, request, noRoute(request)));
    if (options.config.trustProxy.length > 0) refuseForwardedNonAddresses(app);
    // The same per-address budget as the API's callers without a token; /readyz and /metrics each count apart.
    await app.register(rateLimit, {
      global: true,
      keyGenerator: (request) => `address:${normalizeIP(request.ip)}`,
      max: limits.rateLimitPerAddress,
      timeWindow: limits.rateLimitWindowMs,
      cache: 1_000,
      // Counted as the API port's rate limit counts (protection.ts); the 429 itself as a refusal, once sent.
      onExceeded: (request) => options.context.metrics.rateLimited(request.routeOptions.url ?? 'unmatched', 'probes'),
      errorResponseBuilder: (_request, context) => rateLimited(Math.max(1, Math.ceil(context.ttl / 1000))),
    });
    // An unknown path takes the rate limit's budget before it is refused, as on the API port (review 429: none did, and
    // the not-found handler is outside the plugin's global hook). /readyz and /metrics have budgets of their own.
    refuseUnmatchedBeforeTheBody(app, noRoute);
    // After the rate limit: it counts the refusal against the caller's budget.
    refuseUnmetExpectations(app);
    // A probe's query is refused as on the API port (`/healthz?bogus=1`: 400, `query.bogus`).
    takeNoQueryByDefault(app);
    await healthRoutesWith(options.startPhase !== undefined ? { startPhase: options.startPhase } : {})(app, options.context);
  } catch (error) {
    await app.close().catch(() => {});
    throw error;
  }
  return app;
};
