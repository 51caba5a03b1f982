import { z } from 'zod';
import { int, MIB } from './config-values.ts';
import { MAX_HEARTBEAT_MS } from '../../domain/heartbeat-announcement.ts';

/**
 * The hello floor by default: above what a whole hello took at the 99th percentile, the lookups of a device with 25
 * past associations from a cold memo included, on a shared 2-core machine under load, but in its busiest rounds, where
 * any request was as late (docs/service.md, Device endpoints).
 */
export const HELLO_FLOOR_DEFAULT_MS = 50;

/**
 * The device routes' body limit by default. A device's largest message is a provisioning hello with a full IDevID
 * chain (4 certificates of 16 KiB: 88,923 bytes of JSON with every field at its longest); the others are a few KB at
 * most (an auth with a 4 KiB CSR: 5,929 bytes; association messages hold ids, keys and hashes). Measured by
 * test/device-routes-refuse-a-body-past-their-own-limit.test.ts; 128 KiB leaves the hello 47% to spare.
 */
export const DEVICE_BODY_LIMIT_DEFAULT_BYTES = 128 * 1024;

/**
 * The bound on answers not yet taken by their clients, by default: far above what honest clients leave unread at once
 * (the largest answers, an evidence bundle of 11.5 MB or 4.4 MB of compliance rows, are taken in well under a second
 * on a LAN), and far below Node's default heap limit (some 2 to 4 GiB), which 1,000 connections at 4.4 MB each passed.
 */
export const UNSENT_ANSWER_DEFAULT_BYTES = 256 * MIB;

/** How long a live component may fail before /readyz answers 503 `component`, by default. */
export const READY_MAX_FAILING_DEFAULT_MS = 60_000;

/** Bounds of the service (SER-001). Every one can be set small, so tests can reach it. */
export const ServiceLimitsConfig = z.strictObject({
  /** Largest request body; more is 413 before it is parsed. */
  bodyLimitBytes: int(1, 64 * MIB).default(MIB),
  /**
   * Largest body of a device route (/v1/enrolment/*, /v1/registrar/*), which anyone may call without a token: far
   * below the API's, since each such body is read whole before it is judged. Never more than `bodyLimitBytes`.
   */
  deviceBodyLimitBytes: int(1, 64 * MIB).default(DEVICE_BODY_LIMIT_DEFAULT_BYTES),
  /** Nesting and value count of a JSON body (domain/json-limits.ts), checked before any schema. */
  jsonMaxDepth: int(1, 64).default(16),
  jsonMaxValues: int(1, 1_000_000).default(4_096),
  maxSseStreamsPerPrincipal: int(1, 10_000).default(4),
  /**
   * Canonical streams open at once, all principals together: the per-principal cap alone let an admin mint subjects
   * and open four each (found in review: 160 streams catching up from the start held 310 MB and blocked the event loop
   * for 691 ms). Pseudonymised streams have their own bound below, so neither kind can crowd out the other.
   */
  maxSseStreams: int(1, 10_000).default(64),
  /**
   * Pseudonymised streams open at once to integrators, all tenants together: each holds its own fold of who owns which identifier
   * (some 100 bytes per credential, CSE-ID, AE-ID and association of the fleet), so their number bounds that memory.
   */
  maxPseudonymisedStreams: int(1, 10_000).default(16),
  /**
   * Unused since review 229 (`RETIRED_LIMITS`): it bounded the pseudonymised streams of operators and auditors, who are
   * now refused that stream. Still accepted, without a default, so a config file that names it still starts.
   */
  maxPseudonymisedStreamsOfOperatorsAndAuditors: int(1, 10_000).optional(),
  sseHeartbeatMs: int(10, MAX_HEARTBEAT_MS).default(15_000),
  sseHighWaterBytes: int(1, 256 * MIB).default(MIB),
  sseStallMs: int(1, 3_600_000).default(10_000),
  readyMaxLagEvents: int(0, Number.MAX_SAFE_INTEGER).default(1_000),
  /**
   * /readyz fails once a live component has been failing this long without an attempt going through (routes/health.ts):
   * longer than a store blip or a held lock costs in retries (0.25 s doubling, live-timing.ts), so one failed attempt
   * does not flip readiness; 0: at its first failure.
   */
  readyMaxFailingMs: int(0, 86_400_000).default(READY_MAX_FAILING_DEFAULT_MS),
  /** Requests per window for one authenticated subject, and for one source address without a token. */
  rateLimitPerPrincipal: int(1, 10_000_000).default(6_000),
  rateLimitPerAddress: int(1, 10_000_000).default(1_200),
  rateLimitWindowMs: int(1, 86_400_000).default(60_000),
  /**
   * Least time, from its receipt, in which a device hello (provisioning or association) is answered, whatever the
   * answer (a challenge, a decoy challenge, a refusal): a timer, no work (routes/device-endpoints.ts). Without it a
   * stranger's first hello for a real id came later than one for an unknown id, its lookup rebuilding a stream that
   * an unknown id does not have (review 70). 0 turns it off; at most a second, since each hello holds its connection
   * for it. Default: docs/service.md says what it was chosen above.
   */
  helloFloorMs: int(0, 1_000).default(HELLO_FLOOR_DEFAULT_MS),
  /** Authenticated provisioning runs and association handshakes one device may begin per replay window, at each. */
  protocolRunsPerDevice: int(1, 10_000_000).default(32),
  /**
   * Device runs in flight, pending or authenticated, each responder (the Enrolment Function's and the Registrar's
   * session tables) holds at once: past it a hello evicts the oldest pending run (adapters/protocols/shared/
   * session-table.ts). Some 9 to 11 KB of heap each while pending (docs/service.md, "What the server keeps"), so the
   * default holds about 200 MB at both bounds (review 437).
   */
  maxPendingDeviceSessions: int(100, 1_000_000).default(10_000),
  /**
   * Resolutions of one pseudonym one auditor may record: each is a PseudonymResolved on the pseudonym's stream, which
   * every read of that pseudonym reads whole (found in review: 20,000 within the rate limit in 3.5 minutes).
   */
  maxResolutionsPerPseudonym: int(1, 1_000_000).default(100),
  /**
   * Most events of one entity a whole-stream read (its evidence bundle, its replay, its state, its unpaged timeline)
   * handles in one request (adapters/http/routes/entity-bound.ts). Found in review: a pseudonym stream grown to 20,000
   * events by resolutions held the event loop 0.5 to 7.3 s per request. At 10,000 the evidence bundle, the dearest,
   * costs some 3 s of work (yielding) and 6 MB; an entity's own lifecycle stays far below it. It counts lifecycle
   * events: the fact claims EventStoreDB appends to a fact's stream (domain/fact-claims.ts) are bounded below.
   */
  maxEntityEvents: int(1, 10_000_000).default(10_000),
  /**
   * Most records of one entity's stream such a read takes in one request, fact claims included; unset, 10 times
   * `maxEntityEvents` (`entityRecordBound`). On EventStoreDB a subscription's stream gains a claim per node enrolled
   * and per credential provisioned under it (review 172: 3,300 nodes made one unreadable under a bound on records), so
   * past `maxEntityEvents` records the lifecycle events are counted, and this bounds what counting and reading cost.
   * Never less than `maxEntityEvents` (checked below). One entity's replay (the entity and replay routes) is held to it
   * on every store over what it reads: its own stream's records and the lifecycle events of the fact streams its events
   * read (review 420; their claims uncounted, review 423).
   */
  maxEntityRecords: int(1, 100_000_000).optional(),
  /**
   * Load shedding (503 with Retry-After) beyond these; 0 turns a check off. The memory bounds are in bytes, any count
   * accepted (a tiny one tests shedding); one at or below what the process uses at start is said at warn then
   * (review 434: 512, meant as MiB, shed every request without a word; start-setting-warnings.ts).
   */
  maxEventLoopDelayMs: int(0, 600_000).default(1_000),
  maxHeapUsedBytes: int(0, Number.MAX_SAFE_INTEGER).default(0),
  maxRssBytes: int(0, Number.MAX_SAFE_INTEGER).default(0),
  pressureSampleIntervalMs: int(10, 60_000).default(1_000),
  /**
   * Bytes of answers handed to their sockets and not yet taken by their clients, all connections together, past which
   * new requests (but the probes and event streams) are refused 503 `overloaded` (unsent-answers.ts); 0 turns it off.
   * Found in review 242: an answer is written whole, and 40 clients that read none of a 4.4 MB answer held 179 MB of
   * heap until the connection timeout. Default: docs/service.md says what it was chosen for.
   */
  maxUnsentAnswerBytes: int(0, Number.MAX_SAFE_INTEGER).default(UNSENT_ANSWER_DEFAULT_BYTES),
  retryAfterSeconds: int(1, 3_600).default(10),
  /**
   * Client connections open at once (lowered at start to leave 128 descriptors under the process's open-files limit),
   * and from one source address (behind a proxy, every client has the proxy's: raise it to what the proxy opens).
   */
  maxConnections: int(1, 1_000_000).default(1_000),
  maxConnectionsPerAddress: int(1, 1_000_000).default(256),
  /** Socket inactivity (longer than the SSE heartbeat: checked below), whole-request receipt (slow clients), idle keep-alive. */
  connectionTimeoutMs: int(0, 3_600_000).default(60_000),
  requestTimeoutMs: int(0, 3_600_000).default(30_000),
  keepAliveTimeoutMs: int(1, 3_600_000).default(5_000),
});
export type ServiceLimitsConfig = z.infer<typeof ServiceLimitsConfig>;

/**
 * Bounds that only make sense together, checked on the merged configuration (each source may set one of them). An
 * SSE stream sends nothing but its heartbeat while no event comes, and the connection timeout closes a socket
 * that long without activity: a heartbeat at or past the timeout would cut every quiet stream. (The request
 * timeout ends once the request is received and the keep-alive timeout starts after a response ends, so neither
 * reaches a stream in progress.) Each names the other limit in `also`: the configuration says where each was set.
 */
export const checkLimitsTogether = (limits: ServiceLimitsConfig, context: z.RefinementCtx): void => {
  // Fewer records than events would refuse, on EventStoreDB, an entity the event bound lets through.
  if (limits.maxEntityRecords !== undefined && limits.maxEntityRecords < limits.maxEntityEvents) {
    context.addIssue({
      code: 'custom',
      path: ['maxEntityRecords'],
      params: { rule: 'records_at_least_events', also: ['limits.maxEntityEvents'] },
      message:
        `limits.maxEntityRecords (${limits.maxEntityRecords}) must be at least limits.maxEntityEvents (${limits.maxEntityEvents}): ` +
        'every lifecycle event is a record of its stream; raise maxEntityRecords, or leave it unset (10 times maxEntityEvents)',
    });
  }
  if (limits.connectionTimeoutMs !== 0 && limits.sseHeartbeatMs >= limits.connectionTimeoutMs) {
    context.addIssue({
      code: 'custom',
      path: ['sseHeartbeatMs'],
      params: { rule: 'heartbeat_within_connection_timeout', also: ['limits.connectionTimeoutMs'] },
      message:
        `limits.sseHeartbeatMs (${limits.sseHeartbeatMs}) must be shorter than limits.connectionTimeoutMs (${limits.connectionTimeoutMs}), ` +
        'or an event stream with no events is closed before its heartbeat: lower sseHeartbeatMs, or raise connectionTimeoutMs (0 turns it off)',
    });
  }
};

/**
 * Limits still accepted but no longer used, and why: a config file written for an earlier release must still start,
 * and its operator told once (at start, through the configuration's `warn`) that the setting does nothing.
 */
export const RETIRED_LIMITS = {
  maxPseudonymisedStreamsOfOperatorsAndAuditors:
    'operators and auditors are refused the pseudonymised event stream (review 229: its positions pair with the canonical ' +
    "stream's, which linked each pseudonym to its node), so no such stream is left to bound; remove it from the file",
} as const satisfies Partial<Record<keyof ServiceLimitsConfig, string>>;

/** One warning per retired limit `limits` sets (./config.ts loadServiceConfig says them). */
export const retiredLimitWarnings = (limits: Readonly<Record<string, unknown>> | undefined, where: string): string[] =>
  Object.entries(RETIRED_LIMITS).flatMap(([field, why]) =>
    limits?.[field] === undefined ? [] : [`${where}limits.${field}: no longer used: ${why}`],
  );

/** The body limit of a device route: its own, within the API's (`start.ts` passes the configured limits whole). */
export const deviceBodyLimit = (limits: { readonly bodyLimitBytes: number; readonly deviceBodyLimitBytes?: number }): number =>
  Math.min(limits.deviceBodyLimitBytes ?? DEVICE_BODY_LIMIT_DEFAULT_BYTES, limits.bodyLimitBytes);

/** Records of one entity's stream a whole-stream read takes in one request: the configured bound, or 10 events' worth. */
export const entityRecordBound = (limits: { readonly maxEntityEvents: number; readonly maxEntityRecords?: number }): number =>
  limits.maxEntityRecords ?? 10 * limits.maxEntityEvents;
