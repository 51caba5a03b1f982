import { z } from 'zod';
import type { CredenceError } from '../../../domain/errors.ts';
import { caSigningKeyMissingNow } from '../../runtime/pki-revocation.ts';
import type { RouteModule, ServiceContext } from '../context.ts';
import { logFailure } from '../log-failure.ts';
import { HttpProblem } from '../problems.ts';
import { ReadinessLog, secureEnvironmentUnready } from './secure-environment-readiness.ts';
import { READY_MAX_FAILING_DEFAULT_MS } from '../service-limits-config.ts';
import { LOG_KEY_REFUSES_TO_SIGN } from '../map-raised-error.ts';
import { storeUnavailableOf } from '../../runtime/store-unreachable.ts';
import { pastReadyBound } from './wire.ts';

const NOT_READY_RETRY_SECONDS = 5;
const STORE_PROBE_TIMEOUT_MS = 2_000;

const notReady = (check: string, detail: string, extensions: Record<string, unknown> = {}): HttpProblem =>
  new HttpProblem(503, 'not_ready', detail, { check, ...extensions }, { 'retry-after': String(NOT_READY_RETRY_SECONDS) });

const withTimeout = <T>(promise: Promise<T>, ms: number): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out')), ms);
    promise.then(resolve, reject).finally(() => clearTimeout(timer));
  });

/**
 * The live component failing longest, when that is past `readyMaxFailingMs`. Its run of failures is counted from its
 * first failed attempt and ends at one that goes through: an attempt failing now and then (a store blip, a lock held
 * a moment) is retried within a second and never gets near the bound. Its duration as the runtime timed it, on the
 * monotonic clock: from the wall clock, a step back made every run negative and the service stayed ready (review 163).
 */
const failingTooLong = (context: ServiceContext): { readonly name: string; readonly seconds: number } | undefined => {
  const bound = context.limits.readyMaxFailingMs ?? READY_MAX_FAILING_DEFAULT_MS;
  let longest: { readonly name: string; readonly forMs: number } | undefined;
  for (const { name, forMs } of context.live.failing?.() ?? []) {
    if (forMs !== undefined && forMs >= bound && (longest === undefined || forMs > longest.forMs)) longest = { name, forMs };
  }
  return longest === undefined ? undefined : { name: longest.name, seconds: Math.floor(longest.forMs / 1000) };
};

/**
 * Why a signing key of the Enrolment Function or the Registrar CSE cannot be used now (SigningKeys.missing): a device
 * request met it missing from the Secure Environment, or refused there as `token_integrity` (its public half deleted,
 * review 166), and no use of it went through since. The security procedures
 * are opened at start (device-endpoints.ts), so this is the opening kept then; one that failed is not this check's to
 * report (the device routes answer why). Not the API token signing key: missing, it refuses only the issuing of
 * tokens (accessSigningKeyLost) while every token issued still verifies, its public key read at start, and an
 * instance out of its load balancer would refuse all of those to mend nothing.
 */
const signingKeyMissing = async (context: ServiceContext): Promise<CredenceError | undefined> => {
  if (!context.credence.hasSecurity) return undefined;
  const security = await Promise.resolve()
    .then(() => context.credence.security())
    .catch(() => undefined);
  return security?.infrastructure.signing.missing();
};

/**
 * Why a PKI signing key cannot be used now (review 332): a CA's key a signature met missing from the Secure
 * Environment (`ca_signing_key_missing`: no node certificate, CRL or OCSP responder certificate can be signed under
 * that CA), or an OCSP responder key no new signer replaced yet (`ocsp_signing_key_missing`). Kept as the Registrar's
 * key is (key-presence.ts): no Secure Environment call while the keys sign, a look every few seconds while one is
 * refused, ready again once it is found or replaced. Before the PKI publisher starts, the CAs' keys only.
 */
const pkiSigningKeyMissing = async (context: ServiceContext): Promise<CredenceError | undefined> => {
  for (const ca of context.pki?.cas ?? []) {
    const missing = await caSigningKeyMissingNow(ca);
    if (missing !== undefined) return missing;
  }
  return context.pkiRevocation?.current?.signingKeyMissing?.();
};

/**
 * No store position: this answer is public, and a head polled by a stranger showed the log grow, every command, the
 * rotations the pseudonymised stream hides and a revocation cascade's size as one jump (review 50). The lag only where
 * /metrics is served, whose gauges say it anyway; positions are for a token, at GET /v1/projections.
 */
const Ready = z.object({
  status: z.literal('ready'),
  eventsBehind: z.number().int(),
  /** The count stopped at its limit: at least `eventsBehind` (review 413). */
  eventsBehindAtLeast: z.literal(true).optional(),
  secondsBehind: z.number(),
});

/**
 * The API's port of a service with a probe port: no lag either (review 381). /metrics is not served there (review
 * 90), and a lag polled by a stranger went 0, 1, 2 as an operator sent commands, the activity review 50 hid.
 */
const ReadyWithoutLag = z.object({ status: z.literal('ready') });

/**
 * The readiness logs of one service, per check: the API's port and the probe port share them, so a failure is logged
 * once whoever polls (ReadinessLog).
 */
const readinessLogs = () => ({
  accessDb: new ReadinessLog('access_db', 'ready again: access.db can be read'),
  secureEnvironment: new ReadinessLog('secure_environment', "ready again: the service's Secure Environment can be used"),
  signingKey: new ReadinessLog('secure_environment', 'ready again: no device signing key is missing from the Secure Environment'),
  pkiSigningKey: new ReadinessLog('secure_environment', 'ready again: no PKI signing key is missing from the Secure Environment'),
});
const readinessLogsOf = new WeakMap<ServiceContext, ReturnType<typeof readinessLogs>>();
const readinessLogsFor = (context: ServiceContext): ReturnType<typeof readinessLogs> => {
  let logs = readinessLogsOf.get(context);
  if (logs === undefined) readinessLogsOf.set(context, (logs = readinessLogs()));
  return logs;
};

/** What tells one failure of access.db from another in the log: SQLite's code, else the message. */
const failureReasonOf = (error: unknown): string => {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.message : String(error);
};

/**
 * Where a start that has not finished is (start.ts): `catch_up` until the live components have caught up with the store
 * (the probe port listens before, review 51; the API's port does not listen yet), then `starting` until it serves (the
 * API's port is bound, the address checked and the PKI publisher started: review 422).
 */
export type StartPhase = 'catch_up' | 'starting';

export interface HealthOptions {
  /**
   * The start's phase while it has not finished, else undefined: /healthz answers (the process is alive, a rebuild must
   * not get it killed), /readyz is 503 with the phase as its `check`.
   */
  readonly startPhase?: () => StartPhase | undefined;
  /**
   * False: no /metrics here. The API's port of a service with a probe port: the heap gauges told a stranger sending
   * device hellos which Node-IDs exist, the command counts the whole fleet's activity to a scoped integrator (review 90).
   * Nor the lag in /readyz (review 381): its ready answer is the status alone, its lag 503 the reason code alone.
   */
  readonly metrics?: boolean;
}

/**
 * Probes and metrics: public and exempt from load shedding (protection.ts), so an orchestrator sees a busy service
 * as busy rather than dead. /healthz answers whenever the process serves, exempt from the rate limit too (it costs
 * nothing); /readyz (a read of the store's head) and /metrics (the whole registry rendered, some ten times a probe's
 * cost) each have a per-address rate limit of their own (the API's budget, in a bucket apart from the API requests),
 * which a scraper or a probe stays far below and a flood from one address meets at once (found in review: a flood
 * of /metrics shed the operators' requests). /readyz answers when
 * the store and access.db answer, no live component has been failing for `readyMaxFailingMs` and the live projections are within
 * `readyMaxLagEvents` of its head. The options are what only the
 * starting process knows (the probe port's).
 */
export const healthRoutesWith = (options: HealthOptions): RouteModule => (app, context) => {
  const saysLag = options.metrics !== false;
  const said = readinessLogsFor(context);
  app.get(
    '/healthz',
    {
      config: { access: 'public', rateLimit: false },
      schema: { summary: 'Liveness: the process serves requests', tags: ['service'], response: { 200: z.object({ status: z.literal('ok') }) } },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      // A budget of its own per address (an object: the rate limit's child store), apart from the API requests.
      config: { access: 'public', rateLimit: {} },
      schema: { summary: 'Readiness: the store is reachable and projection lag is under the bound', tags: ['service'], response: { 200: saysLag ? Ready : ReadyWithoutLag } },
    },
    async (request) => {
      try {
        await withTimeout(context.credence.store.headPosition(), STORE_PROBE_TIMEOUT_MS);
      } catch (error) {
        // Answering, but refusing what the service sends it (review 386): its operator looks at credentials, not the network.
        if (storeUnavailableOf(error)?.reason === 'unauthorised') throw notReady('store', "the event store refused this service's credentials or their user's permissions");
        throw notReady('store', 'the event store does not answer');
      }
      // Review 276: access.db read on every request with a token (and written by other processes: `credence token
      // create --data`); its reads failing answered every API call 500 while this said ready. One read of two small
      // indexed rows (checkReadable), cheap enough for a probe every second. No path in this answer: the log has it.
      try {
        context.access.checkReadable();
        said.accessDb.passing(request.log);
      } catch (error) {
        said.accessDb.failing(failureReasonOf(error), () => logFailure(request.log, error, 'not ready: access.db cannot be read', { check: 'access_db' }));
        throw notReady('access_db', 'the access database (API tokens) does not answer: requests with a token are refused meanwhile');
      }
      // Review 264: a restore done while it ran left it writing to the file moved aside, ready. Checked here, not only at
      // the live runtime's ticks (review 266: `tickMs` may be an hour); a stat that fails otherwise is the runtime's to
      // say. No path in this answer.
      const eventsDb = context.credence.eventsDb;
      await eventsDb?.check().catch(() => undefined);
      if (eventsDb?.replaced !== undefined) {
        throw notReady(
          'events_db_replaced',
          'events.db in the data folder was moved, replaced or rewound in place while the service runs (a restore done with it running?): it is no longer the file, or the content, the service has open, and commands are refused; stop the service before a restore, then start it',
        );
      }
      // Review 144: a token gone or a PIN locked failed every request that needs a key while the service said ready.
      const unusable = await secureEnvironmentUnready(context.secureEnvironmentUnavailable, request.log, said.secureEnvironment);
      if (unusable !== undefined) throw notReady('secure_environment', unusable.detail, unusable.extensions);
      // Review 162: a key deleted from the token answered every enrolment or association with 503 while the service
      // said ready, so its load balancer kept sending devices here; review 166: so did a key refused as token_integrity.
      // Said as the token is (its reason, not its handle); checked when none is missing too, to log its recovery.
      const keyMissing = await signingKeyMissing(context);
      const keyUnusable = await secureEnvironmentUnready(async () => keyMissing, request.log, said.signingKey);
      if (keyUnusable !== undefined) throw notReady('secure_environment', keyUnusable.detail, keyUnusable.extensions);
      // Review 332: so did a CA key or an OCSP responder key deleted from it (every CRL failed, a provisioning with a
      // CSR answered 500). Said alike, its reason (`ca_signing_key_missing`, ...) public, the CA and remedy in the log.
      const pkiKeyMissing = await pkiSigningKeyMissing(context);
      const pkiKeyUnusable = await secureEnvironmentUnready(async () => pkiKeyMissing, request.log, said.pkiSigningKey);
      if (pkiKeyUnusable !== undefined) throw notReady('secure_environment', pkiKeyUnusable.detail, pkiKeyUnusable.extensions);
      // No count: this answer is public, and the API port does not listen until the first pass ends (/metrics has the lag).
      const phase = options.startPhase?.();
      if (phase === 'catch_up') throw notReady('catch_up', 'the service is catching up with the event store (first start, or read models rebuilt) and serves no API yet');
      // Review 422: caught up, the API's port bound, but the start can still fail (the PKI publisher's start): every
      // API route but /healthz answers 503 `starting` meanwhile (server.ts), and this says so on either port.
      if (phase === 'starting') throw notReady('starting', "the service has caught up with the event store and is finishing its start (its PKI publisher): the API's port answers 503 `starting` until it serves");
      // Stopped until the operator acts, whatever the lag: commands are refused meanwhile (commands-wait-for-the-log.ts).
      // No position or leaf hash in this public answer (the service's log and GET /v1/projections have them).
      if (context.credence.transparency?.stoppedOnAnotherLog !== undefined) {
        throw notReady(
          'transparency_log_of_another_log',
          'the transparency log holds events the event store does not (restored from an older backup): commands are refused until the operator acts',
        );
      }
      // The log changed under the running service (checkpoints removed, leaves altered): it signs nothing more.
      if (context.credence.transparency?.refusesToSign !== undefined) {
        throw notReady(
          'transparency_log_altered',
          `${LOG_KEY_REFUSES_TO_SIGN}; a restart would sign the log as it is unless a checkpoint witness holds it: audit it against a checkpoint kept from an earlier audit first`,
        );
      }
      // Signed, but the copy a restart is held to could not be written: the protection it is there for is off.
      if (context.credence.transparency?.witnessUnkept !== undefined) {
        throw notReady(
          'checkpoint_witness_unkept',
          "the latest checkpoint could not be written to the checkpoint witness: until it is, a restart is not held to it (the service's log says why)",
        );
      }
      // Whatever the lag: a failing cascade stops revocations propagating long before 1,000 events pile up (review 144).
      // The component's error is for a token (GET /v1/projections) and the service's log: it may name a file.
      const failing = failingTooLong(context);
      if (failing !== undefined) {
        throw notReady(
          'component',
          `the live component ${failing.name} has been failing for ${failing.seconds} s: GET /v1/projections and the service's log say why`,
          { component: failing.name },
        );
      }
      // A count stopped at its limit is at least that (review 413): at or above the bound, or at the limit under a bound
      // set higher, it is past it (pastReadyBound); said exact, a bound of 100,000 or more was never passed.
      const lag = context.live.lag();
      const atLeast = lag.eventsBehindAtLeast === true ? { eventsBehindAtLeast: true as const } : {};
      if (pastReadyBound(lag, context.limits.readyMaxLagEvents)) {
        if (!saysLag) throw notReady('lag', 'live projections are further behind the event store than the bound: the probe port and GET /v1/projections say how far');
        const count = lag.eventsBehindAtLeast === true ? `${lag.eventsBehind} or more` : String(lag.eventsBehind);
        throw notReady('lag', `live projections are ${count} events behind (bound ${context.limits.readyMaxLagEvents})`, { eventsBehind: lag.eventsBehind, ...atLeast });
      }
      if (!saysLag) return { status: 'ready' as const };
      return { status: 'ready' as const, eventsBehind: lag.eventsBehind, ...atLeast, secondsBehind: lag.secondsBehind };
    },
  );

  if (options.metrics === false) return;
  app.get(
    '/metrics',
    {
      config: { access: 'public', rateLimit: {} },
      schema: {
        summary: 'Prometheus metrics (text exposition format)',
        tags: ['service'],
        response: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } } },
      },
    },
    async (_request, reply) => reply.type(context.metrics.contentType).send(await context.metrics.render()),
  );
};
