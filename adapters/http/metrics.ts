import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EntityCacheStats } from '../engine/index.ts';
import type { OCSP_RESPONSE_STATUS } from '../../domain/x509/revocation/index.ts';
import type { ComponentFailing, ComponentStatus } from '../runtime/index.ts';
import { droppedLogLines } from './log-destination.ts';

export interface ServiceMetrics {
  commandDecided(type: string, outcome: 'accepted' | 'refused' | 'replayed', seconds: number): void;
  /**
   * A request answered 4xx or 5xx. `listener` only for the probe port's (`probes`): its /readyz and unmatched paths
   * are the API port's too. The API's series carry no `listener`, as they did before the probe port counted (review 276).
   */
  requestRefused(status: number, route: string, listener?: 'probes'): void;
  /** A request refused by the rate limit (429); `listener` as for `requestRefused`. */
  rateLimited(route: string, listener?: 'probes'): void;
  /** A client connection closed as it opened: past `maxConnections` (`total`) or its address's share (`address`). */
  connectionRefused(reason: 'total' | 'address', listener?: 'api' | 'probes'): void;
  sseClientOpened(role: string): void;
  sseClientClosed(role: string, reason: 'client' | 'slow' | 'shutdown' | 'error' | 'unauthorised'): void;
  sseEventsDelivered(count: number): void;
  /** An OCSP answer sent, by its responseStatus (RFC 6960 4.2.1); `ca` a configured CA's id, else `unknown`. */
  ocspAnswered(ca: string, outcome: keyof typeof OCSP_RESPONSE_STATUS): void;
  /**
   * A device hello answered with a decoy challenge (its credential cannot be used), by step (`provisioning.hello`,
   * `association.hello`) and the real reason: every one, whether or not its log line was sampled out
   * (decoy-hello-sampling.ts). Called only where /metrics is not public (routes/device-endpoints.ts): the reason of a
   * hello a stranger sent must not be read back by the stranger (seeds 002/004).
   */
  decoyHello(step: string, reason: string): void;
  /** Prometheus text exposition format. */
  render(): Promise<string>;
  /** The Content-Type of `render()`'s output. */
  readonly contentType: string;
}

export interface MetricsSources {
  /** Per-component lag (the live runtime's `status()`, which reads the store's head). */
  readonly components?: () => Promise<readonly ComponentStatus[]>;
  /**
   * How long one read of `components` serves scrapes (default 1 s): /metrics is public, its rate limit per address
   * (routes/health.ts), so scrapes from many addresses cost one read of the store's head per period, not one per scrape.
   */
  readonly componentsCacheMs?: number;
  /**
   * Each live component and since when it has been failing (the live runtime's `failing()`, kept in memory): said
   * whether or not the store answers.
   */
  readonly failing?: () => readonly ComponentFailing[];
  /** The clock of that cache, in ms (tests). */
  readonly now?: () => number;
  /** The engine's entity cache (size, bound, hit rate; issue 15 item 3), read when scraped. */
  readonly entityCache?: () => EntityCacheStats;
  /** How many keys of ended entities the shredder has failed to destroy so far (SER-010), read when scraped. */
  readonly keysOwed?: () => number;
  /** How many reactions the cascade gave up on (credence_cascade_dead_letters' causes), read when scraped. */
  readonly deadLetters?: () => number;
  /** How many due deadlines the expiry scheduler gave up on (their command id taken), read when scraped. */
  readonly expiryDeadLetters?: () => number;
  /**
   * When each issuing CA's chain ends and the last instant it can certify a node credential (ms), read when scraped:
   * what an alert on a CA's renewal watches.
   */
  readonly caChainEnds?: () => readonly { readonly caId: string; readonly endsAt: number; readonly certifiesUntil: number }[];
}

const COMPONENTS_CACHE_MS = 1_000;
/** The steps a hello answered with a decoy challenge is counted under (`decoyHello`). */
const DECOY_HELLO_STEPS: ReadonlySet<string> = new Set(['provisioning.hello', 'association.hello']);
/** prom-client's default metric with the Node.js version as a label, under the registry's prefix. */
export const NODE_VERSION_METRIC = 'credence_nodejs_version_info';
/** A read of the store's head slower than this counts as the store down, as /readyz counts it (routes/health.ts). */
const STORE_READ_TIMEOUT_MS = 2_000;

const withTimeout = <T>(read: () => Promise<T>, ms: number): (() => Promise<T>) => () =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out')), ms);
    read().then(resolve, reject).finally(() => clearTimeout(timer));
  });

/**
 * `read`, its answer shared by every call within `ttlMs` of it (a read in flight included); a failed read is not
 * kept, so the next call reads again.
 */
const sharedFor = <T>(read: () => Promise<T>, ttlMs: number, now: () => number): (() => Promise<T>) => {
  let last: { readonly at: number; readonly value: Promise<T> } | undefined;
  return () => {
    const at = now();
    if (last === undefined || at - last.at >= ttlMs) {
      const value = read();
      last = { at, value };
      value.catch(() => {
        if (last?.value === value) last = undefined;
      });
    }
    return last.value;
  };
};

/**
 * The service's metrics in a registry of its own (two services in one process, as in tests, never share counters).
 * Lag is collected when scraped, so nothing polls between scrapes, and one read serves both lag gauges and every
 * scrape for `componentsCacheMs`. Label values are bounded sets: command types of the catalog, route patterns (never
 * raw URLs), roles, statuses.
 */
export const createServiceMetrics = (sources: MetricsSources = {}): ServiceMetrics => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'credence_' });
  // The exact Node.js version, on a /metrics that is public without a probe port, names the security fixes the
  // process lacks to whoever reaches it (review 242); an operator reads it on the host.
  registry.removeSingleMetric(NODE_VERSION_METRIC);
  const commands = new Counter({
    name: 'credence_commands_total',
    help: 'Commands decided, by type and outcome',
    labelNames: ['type', 'outcome'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'credence_command_duration_seconds',
    help: 'Time to decide and record a command',
    labelNames: ['type'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const refused = new Counter({
    name: 'credence_http_refused_total',
    help:
      'Requests answered with a 4xx or 5xx status, by status and route (unmatched: no route, or refused by the HTTP parser), ' +
      'and OCSP tryLater answers under the status they stand for (429, 503); listener probes on the probe port (none on the API port)',
    labelNames: ['status', 'route', 'listener'] as const,
    registers: [registry],
  });
  const limited = new Counter({
    name: 'credence_http_rate_limited_total',
    help: 'Requests refused by the rate limit (429), by route; listener probes on the probe port (none on the API port)',
    labelNames: ['route', 'listener'] as const,
    registers: [registry],
  });
  const sseClients = new Gauge({
    name: 'credence_sse_clients',
    help: 'Open server-sent event streams, by role',
    labelNames: ['role'] as const,
    registers: [registry],
  });
  const sseClosed = new Counter({
    name: 'credence_sse_closed_total',
    help: 'Server-sent event streams ended, by role and reason',
    labelNames: ['role', 'reason'] as const,
    registers: [registry],
  });
  const connectionsRefused = new Counter({
    name: 'credence_connections_refused_total',
    help: 'Client connections closed as they opened: past the connection bound of the listener (total) or its bound per address (address); listener api or probes',
    labelNames: ['reason', 'listener'] as const,
    registers: [registry],
  });
  new Counter({
    name: 'credence_log_lines_dropped_total',
    help: 'Log lines not written because writing to stdout failed (a full disk, a file size limit) or fell far behind: this process\'s, since it started',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(droppedLogLines());
    },
  });
  const sseEvents = new Counter({ name: 'credence_sse_events_total', help: 'Events delivered over server-sent event streams', registers: [registry] });
  const ocspAnswers = new Counter({
    name: 'credence_ocsp_answers_total',
    help: 'OCSP answers sent, by issuing CA (unknown: a CA not configured) and responseStatus (RFC 6960 4.2.1: successful, malformedRequest, internalError, tryLater, sigRequired, unauthorized)',
    labelNames: ['ca', 'outcome'] as const,
    registers: [registry],
  });
  const decoyHellos = new Counter({
    name: 'credence_decoy_hellos_total',
    help:
      'Device hellos answered with a decoy challenge (a credential that cannot be used), by step and real reason ' +
      '(unknown_credential, credential_revoked, credential_expired, ...), every one whether or not its log line was sampled out; ' +
      'counted only on a service with a probe port (else /metrics is public and would tell a stranger why its hello got a decoy)',
    labelNames: ['step', 'reason'] as const,
    registers: [registry],
  });
  const now = sources.now ?? Date.now;
  const components =
    sources.components === undefined
      ? undefined
      : sharedFor(withTimeout(sources.components, STORE_READ_TIMEOUT_MS), sources.componentsCacheMs ?? COMPONENTS_CACHE_MS, now);
  /** The shared status read, or undefined when the store's head cannot be read. */
  const componentsOrNone = async (): Promise<readonly ComponentStatus[] | undefined> => components?.().catch(() => undefined);
  /**
   * A gauge per live component, set from the shared status read when scraped. Left without samples when the store's
   * head cannot be read (`credence_store_up` 0): a collect that throws fails the whole scrape, and every other metric
   * went missing exactly during a store outage (review 144).
   */
  const componentGauge = (name: string, help: string, valueOf: (c: ComponentStatus) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['component'] as const,
      registers: [registry],
      async collect() {
        if (components === undefined) return;
        this.reset();
        for (const c of (await componentsOrNone()) ?? []) this.set({ component: c.name }, valueOf(c));
      },
    });
  };
  componentGauge('credence_projection_lag_events', 'Events between the head of the store and what each live component has handled', (c) => c.eventsBehind);
  componentGauge('credence_projection_lag_seconds', 'Age of the oldest event a live component has not handled yet', (c) => c.secondsBehind);
  if (components !== undefined) {
    new Gauge({
      name: 'credence_store_up',
      help: `1 when the event store's head could be read for this scrape (within ${STORE_READ_TIMEOUT_MS / 1000} s), 0 when not (the lag gauges are then left out)`,
      registers: [registry],
      async collect() {
        this.set((await componentsOrNone()) === undefined ? 0 : 1);
      },
    });
  }
  const { failing } = sources;
  if (failing !== undefined) {
    // Label values: the live components' names, a fixed set.
    const failingGauge = (name: string, help: string, valueOf: (since: number | undefined, at: number) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['component'] as const,
        registers: [registry],
        collect() {
          this.reset();
          const at = now();
          for (const c of failing()) this.set({ component: c.name }, valueOf(c.since, at));
        },
      });
    };
    failingGauge(
      'credence_component_failing',
      "1 while a live component's attempts fail (its last one failed; it is retried with a back-off), 0 once one went through",
      (since) => (since === undefined ? 0 : 1),
    );
    failingGauge(
      'credence_component_failing_seconds',
      "Seconds since a live component's current run of failed attempts began, 0 when it is not failing",
      (since, at) => (since === undefined ? 0 : Math.max(0, (at - since) / 1000)),
    );
  }
  const { entityCache } = sources;
  if (entityCache !== undefined) {
    /** A gauge read from the engine's cache statistics when scraped. */
    const cacheGauge = (name: string, help: string, valueOf: (s: EntityCacheStats) => number): void => {
      new Gauge({ name, help, registers: [registry], collect() { this.set(valueOf(entityCache())); } });
    };
    /**
     * A count of the engine's cache since start, read when scraped as credence_log_lines_dropped_total is: a counter,
     * as its `_total` name says (review 276: typed gauge, it broke Prometheus's naming and what rate() expects).
     */
    const cacheCounter = (name: string, help: string, valueOf: (s: EntityCacheStats) => number): void => {
      new Counter({
        name,
        help,
        registers: [registry],
        collect() {
          this.reset();
          this.inc(valueOf(entityCache()));
        },
      });
    };
    cacheGauge('credence_entity_cache_hit_ratio', 'Share of entity loads served from a cached snapshot since start', (c) => c.hitRate);
    cacheCounter('credence_entity_cache_hits_total', 'Entity loads served from a cached snapshot', (c) => c.hits);
    cacheCounter('credence_entity_cache_misses_total', 'Entity loads that rebuilt the entity from its whole stream (not cached, or read whole for its history)', (c) => c.misses);
    cacheCounter(
      'credence_entity_cache_assumed_new_total',
      'Commands starting an entity not cached, decided on a new entity without a read; neither hits nor misses',
      (c) => c.assumedNew,
    );
    cacheCounter('credence_entity_cache_evictions_total', 'Snapshots dropped to stay within the bound', (c) => c.evictions);
    cacheCounter('credence_entity_cache_prefetched_total', 'Entities read ahead, many per store read (a rotation tick\'s node facts); their later loads count as hits', (c) => c.prefetched);
    cacheGauge('credence_entity_cache_entries', 'Entity snapshots held', (c) => c.entries);
    cacheGauge('credence_entity_cache_bytes', 'Estimated bytes of the snapshots held', (c) => c.bytes);
    cacheGauge('credence_entity_cache_max_bytes', 'The bound on those bytes', (c) => c.maxBytes);
  }
  /**
   * A gauge of one number a source reads when scraped, when the service has that source: NaN when the read fails (a
   * read model locked or damaged), rather than the whole scrape failing with it.
   */
  const readGauge = (name: string, help: string, read: (() => number) | undefined): void => {
    if (read === undefined) return;
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        let value = Number.NaN;
        try {
          value = read();
        } catch {
          // Left NaN: the service's log and GET /v1/projections say what fails.
        }
        this.set(value);
      },
    });
  };
  readGauge(
    'credence_keys_owed_destruction',
    'Keys of revoked or expired credentials and associations the Secure Environment has not destroyed yet (retried with a back-off)',
    sources.keysOwed,
  );
  readGauge(
    'credence_cascade_dead_letters',
    'Reactions the revocation cascade could not carry out and will not retry (a broken history, a derived command id held by another command, ' +
      'a credential whose machine refused its revocation): each waits for an operator',
    sources.deadLetters,
  );
  readGauge(
    'credence_expiry_dead_letters',
    'Due deadlines the expiry scheduler could not carry out and will not retry (their command id is held by another command): each waits for an operator',
    sources.expiryDeadLetters,
  );
  const caChainEnds = sources.caChainEnds;
  if (caChainEnds !== undefined) {
    // Public facts: the CAs' certificates are served to anyone at /pki/{id}/ca.crt and chain.pem.
    const caInstant = (name: string, help: string, instantOf: (ca: { readonly endsAt: number; readonly certifiesUntil: number }) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['ca'] as const,
        registers: [registry],
        collect() {
          this.reset();
          for (const ca of caChainEnds()) this.set({ ca: ca.caId }, Math.floor(instantOf(ca) / 1000));
        },
      });
    };
    caInstant('credence_pki_ca_chain_end_timestamp_seconds', "When each issuing CA's chain ends (its certificate or one above it; Unix time)", (ca) => ca.endsAt);
    caInstant(
      'credence_pki_ca_certifies_until_timestamp_seconds',
      "The last instant each issuing CA can certify a node credential (its chain's end less a credential's lifetime; Unix time): renew it before (credence ca renew)",
      (ca) => ca.certifiesUntil,
    );
  }
  return {
    commandDecided(type, outcome, seconds) {
      commands.inc({ type, outcome });
      latency.observe({ type }, seconds);
    },
    requestRefused: (status, route, listener) => refused.inc({ status: String(status), route, ...(listener === undefined ? {} : { listener }) }),
    rateLimited: (route, listener) => limited.inc({ route, ...(listener === undefined ? {} : { listener }) }),
    connectionRefused: (reason, listener = 'api') => connectionsRefused.inc({ reason, listener }),
    sseClientOpened: (role) => sseClients.inc({ role }),
    sseClientClosed(role, reason) {
      sseClients.dec({ role });
      sseClosed.inc({ role, reason });
    },
    sseEventsDelivered: (count) => sseEvents.inc(count),
    ocspAnswered: (ca, outcome) => ocspAnswers.inc({ ca, outcome }),
    // Label values: the two hello steps, else `other`; a reason is a ProtocolReason the service made, a closed set.
    decoyHello: (step, reason) => decoyHellos.inc({ step: DECOY_HELLO_STEPS.has(step) ? step : 'other', reason: /^[a-z_]{1,40}$/.test(reason) ? reason : 'other' }),
    render: () => registry.metrics(),
    contentType: registry.contentType,
  };
};
