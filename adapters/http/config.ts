import { statSync } from 'node:fs';
import { WholeNumber } from '../../domain/whole-number.ts';
import { z } from 'zod';
import { isCredenceError, validationError, type FieldIssue } from '../../domain/errors.ts';
import { duplicateNameIssue } from '../../domain/json-duplicate-names.ts';
import { TrustProxy } from './trust-proxy.ts';
import { storeCarriesPassword, storePasswordOnCommandLine } from './store-password.ts';
import { assertJsonWithin, MAX_CONNECTION_STRING_CHARS } from '../../domain/json-limits.ts';
import type { RequestSigningPolicy } from '../../domain/signing/index.ts';
import { parsePkcs11Uri, readSigningPolicyFile, StoreConnectionString } from '../runtime/index.ts';
import { readTextFile } from '../runtime/bounded-files.ts';
import { RotationPolicy } from '../../projections/pseudonyms/index.ts';
import { pkiBaseUrlIssues } from '../../domain/x509/issuing-ca.ts';

/**
 * The configuration of `credence serve`: defaults, then an optional JSON file, then the environment, then flags
 * (later wins). Each source is parsed on its own first, so an error names the field and where it came from.
 */

/**
 * A whole number setting. The union ahead of WholeNumber names the rule for a value that is neither a number nor
 * text: found in review, `"port": 1e400` (JSON.parse gives Infinity, which z.number refuses) said only `Invalid input`.
 */
const int = (min: number, max: number) =>
  z.union([z.number(), z.string()], { error: `a whole number in decimal digits, ${min} to ${max}` }).pipe(WholeNumber(min, max));

/**
 * No control character in a host or path: found in review, CREDENCE_DATA holding a line break and ESC was printed as
 * it was in the startup line, and `{"data":"/x\u0000y"}` failed in Node naming no field. Refused here, the message
 * names the field and its source like every other.
 */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/;
const withoutControls = <S extends z.ZodString>(schema: S) =>
  schema.refine((value) => !CONTROLS.test(value), { message: 'must not hold control characters (NUL, a line break, an escape)', abort: true });
const MIB = 1024 * 1024;

/** Bounds of the service (SER-001). Every one can be set small, so tests can reach it. */
export const ServiceLimitsConfig = z.strictObject({
  /** Largest request body; more is 413 before it is parsed. */
  bodyLimitBytes: int(1, 64 * MIB).default(MIB),
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
   * Pseudonymised streams open at once, all principals together: each holds its own fold of who owns which identifier
   * (some 100 bytes per credential, CSE-ID, AE-ID and association of the fleet), so their number bounds that memory.
   */
  maxPseudonymisedStreams: int(1, 10_000).default(16),
  sseHeartbeatMs: int(10, 3_600_000).default(15_000),
  sseHighWaterBytes: int(1, 256 * MIB).default(MIB),
  sseStallMs: int(1, 3_600_000).default(10_000),
  readyMaxLagEvents: int(0, Number.MAX_SAFE_INTEGER).default(1_000),
  /** Requests per window for one authenticated subject, and for one source address without a token. */
  rateLimitPerPrincipal: int(1, 10_000_000).default(6_000),
  rateLimitPerAddress: int(1, 10_000_000).default(1_200),
  rateLimitWindowMs: int(1, 86_400_000).default(60_000),
  /** Authenticated provisioning runs and association handshakes one device may begin per replay window, at each. */
  protocolRunsPerDevice: int(1, 10_000_000).default(32),
  /**
   * Resolutions of one pseudonym one auditor may record: each is a PseudonymResolved on the pseudonym's stream, which
   * every read of that pseudonym reads whole (found in review: 20,000 within the rate limit in 3.5 minutes).
   */
  maxResolutionsPerPseudonym: int(1, 1_000_000).default(100),
  /**
   * Most events of one entity a whole-stream read (its evidence bundle, its replay, its state, its unpaged timeline)
   * handles in one request (adapters/http/routes/entity-bound.ts). Found in review: a pseudonym stream grown to 20,000
   * events by resolutions held the event loop 0.5 to 7.3 s per request. At 10,000 the evidence bundle, the dearest,
   * costs some 3 s of work (yielding) and 6 MB; an entity's own lifecycle stays far below it.
   */
  maxEntityEvents: int(1, 10_000_000).default(10_000),
  /** Load shedding (503 with Retry-After) beyond these; 0 turns a check off. */
  maxEventLoopDelayMs: int(0, 600_000).default(1_000),
  maxHeapUsedBytes: int(0, Number.MAX_SAFE_INTEGER).default(0),
  maxRssBytes: int(0, Number.MAX_SAFE_INTEGER).default(0),
  pressureSampleIntervalMs: int(10, 60_000).default(1_000),
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
 * reaches a stream in progress.)
 */
const checkLimitsTogether = (limits: ServiceLimitsConfig, context: z.RefinementCtx): void => {
  if (limits.connectionTimeoutMs !== 0 && limits.sseHeartbeatMs >= limits.connectionTimeoutMs) {
    context.addIssue({
      code: 'custom',
      path: ['sseHeartbeatMs'],
      params: { rule: 'heartbeat_within_connection_timeout' },
      message:
        `limits.sseHeartbeatMs (${limits.sseHeartbeatMs}) must be shorter than limits.connectionTimeoutMs (${limits.connectionTimeoutMs}), ` +
        'or an event stream with no events is closed before its heartbeat: lower sseHeartbeatMs, or raise connectionTimeoutMs (0 turns it off)',
    });
  }
};

export const TokenConfig = z.strictObject({
  /** `iss` and `aud` of the API's bearer tokens. */
  issuer: z.string().min(1).max(200).default('credence'),
  audience: z.string().min(1).max(200).default('credence-api'),
  /** The longest lifetime a token can be issued with (default 90 days). */
  maxTtlSeconds: int(1, 10 * 365 * 86_400).default(90 * 86_400),
  /** The most tokens one subject holds at a time, neither expired nor revoked: each is a row of access.db. */
  maxActivePerSubject: int(1, 100_000).default(100),
});
export type TokenConfig = z.infer<typeof TokenConfig>;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** How long a node keeps a pseudonym when the `pseudonyms` setting does not say: a day. */
const DEFAULT_ROTATION_MS = 24 * 3_600_000;

/** One class's rotation in the service's setting: a field left out is the default's; `everyMs: null` is no interval. */
const ServiceClassPolicy = z.strictObject({
  everyMs: z.number().int().positive().nullable().optional(),
  onAssociation: z.boolean().optional(),
});
const ServicePseudonyms = z.strictObject({
  default: ServiceClassPolicy.optional(),
  classes: z.record(z.string().min(1).max(64), ServiceClassPolicy).optional(),
});

/**
 * The rotation policy a `pseudonyms` setting means: every field it leaves out is the service default's (every node
 * daily, no rotation on association), so adding one class, or `onAssociation`, keeps every other node rotating (found
 * in review: a setting naming one class left every other node on its pseudonym for life). An interval is turned off
 * only by saying so (`"everyMs": null`).
 */
const rotationPolicyOf = (setting: z.infer<typeof ServicePseudonyms>): RotationPolicy => {
  const fill = (p: z.infer<typeof ServiceClassPolicy> | undefined, base: { everyMs?: number; onAssociation: boolean }) => {
    const everyMs = p?.everyMs === undefined ? base.everyMs : (p.everyMs ?? undefined);
    return { ...(everyMs !== undefined ? { everyMs } : {}), onAssociation: p?.onAssociation ?? base.onAssociation };
  };
  const fallback = fill(setting.default, { everyMs: DEFAULT_ROTATION_MS, onAssociation: false });
  return RotationPolicy.parse({
    default: fallback,
    classes: Object.fromEntries(Object.entries(setting.classes ?? {}).map(([name, p]) => [name, fill(p, fallback)])),
  });
};

export const ServiceConfig = z.strictObject({
  /** A host name or address, so no space or control character: the value ends up in messages (bin/program.ts). */
  host: withoutControls(z.string().min(1).max(255))
    .regex(/^\S+$/, 'must be a host name or address, without spaces')
    .default('127.0.0.1'),
  port: int(0, 65_535).default(8080),
  /**
   * A port of their own for /healthz, /readyz and /metrics (0: any free port), on `host`, with connection slots apart
   * from the API's: a flood that fills the API's does not fail the probes (SER-001). Unset: the API's port only.
   */
  probePort: int(0, 65_535).optional(),
  /** The data folder: embedded store, read models, Secure Environment, access.db. */
  data: withoutControls(z.string().min(1).max(4_096)).default('./data'),
  /** EventStoreDB/KurrentDB connection string (`esdb://…`, `kurrentdb://…`); the embedded store when absent. */
  store: withoutControls(z.string().min(1).max(MAX_CONNECTION_STRING_CHARS))
    // Checked here so a bad one is refused before anything opens; the messages never repeat it (credentials).
    .superRefine((value, context) => {
      const parsed = StoreConnectionString.safeParse(value);
      if (!parsed.success) for (const issue of parsed.error.issues) context.addIssue({ code: 'custom', message: issue.message });
    })
    .optional(),
  logLevel: z.enum(LOG_LEVELS).default('info'),
  /**
   * A JSON file with the deployment's request-signing policy (SER-016): which commands POST /v1/commands accepts only
   * signed, and the keys of the actors who sign. Without it no command needs a signature, and one attached is
   * recorded unverified (`signed` in the audit trail).
   */
  signing: withoutControls(z.string().min(1).max(4_096)).optional(),
  /**
   * Where the infrastructure's keys live (SER-023, issue 16): `embedded` (the data folder's, the default) or an
   * RFC 7512 `pkcs11:` URI (docs/hsm.md). Checked here, before anything opens; a PIN is never in it (`pin-value` is
   * refused): it comes from the URI's pin-source file or CREDENCE_PKCS11_PIN.
   */
  secureEnvironment: z
    .string()
    .min(1)
    .max(8_192)
    .superRefine((value, context) => {
      if (value === 'embedded') return;
      try {
        parsePkcs11Uri(value);
      } catch (error) {
        const issues = error instanceof Error && 'problem' in error ? ((error as { problem: { issues?: FieldIssue[] } }).problem.issues ?? []) : [];
        if (issues.length === 0) context.addIssue({ code: 'custom', message: "must be 'embedded' or a pkcs11: URI" });
        for (const issue of issues) context.addIssue({ code: 'custom', message: `PKCS#11 URI ${issue.path}: ${issue.message}` });
      }
    })
    .optional(),
  /**
   * The URL relying parties reach this service at (issue 13): issued certificates point at its `/pki/…` CRLs, OCSP
   * responder and CA certificates. Default `http://<host>:<port>` (the port actually bound when 0). Written into every
   * certificate and CRL as given (a trailing `/` aside), so it must be the URI itself: http(s), printable ASCII, no
   * user name or password, no `?` or `#`, in the form the URL parser writes (domain/x509/issuing-ca.ts,
   * `pkiBaseUrlIssues`; found in review: an empty `?` made every CRL path a query, a password was published). The
   * messages never repeat a user name or password.
   */
  publicUrl: z
    .string()
    .max(2_048)
    .superRefine((value, context) => {
      for (const { rule, message } of pkiBaseUrlIssues(value)) context.addIssue({ code: 'custom', params: { rule }, message });
    })
    .optional(),
  /**
   * Behind a reverse proxy every client has the proxy's address: one rate-limit budget, one hello allowance and one
   * failed-token count shared by every device (SER-001). The proxies named here are believed when they say, in
   * X-Forwarded-For, whom they forwarded for; the header is walked from the right and the first address not named is
   * the client (Fastify's `trustProxy`). Empty (the default): the header is never read, so no client can choose its
   * address by sending it. Connection slots stay per connection's address: they are taken before any header is read.
   */
  trustProxy: TrustProxy.default([]),
  /** How often the expiry scheduler and pseudonym rotation run. */
  tickMs: int(10, 3_600_000).default(1_000),
  /**
   * When the embedded store acknowledges an append (issue 15): `full`, once synced to disk (survives a power loss);
   * `normal`, once written to the OS (survives a killed process only). Appends are group-committed either way.
   * Unset: `full`, or what the store's connection string says (`sqlite:./data?durability=normal`).
   */
  durability: z.enum(['full', 'normal']).optional(),
  /** MiB of entity snapshots the engine keeps in memory between commands (0: none). */
  entityCacheMiB: int(0, 65_536).default(64),
  /**
   * When nodes take new pseudonyms (seed 004: pseudonyms that change frequently; SER-011), per node profile class:
   * `{ "default": { "everyMs": …, "onAssociation": … }, "classes": { "<class>": { … } } }`, from the configuration
   * file. Unset: every node daily, whatever its class (found in review: the service left every node on its first
   * pseudonym for life). `onAssociation` is off by default: the association's configuration is then published under
   * the old pseudonym and its establishment under the new one, which pairs the two (docs/service.md).
   */
  pseudonyms: ServicePseudonyms.default({}).transform(rotationPolicyOf),
  limits: ServiceLimitsConfig.superRefine(checkLimitsTogether).default(ServiceLimitsConfig.parse({})),
  tokens: TokenConfig.default(TokenConfig.parse({})),
}).superRefine((config, context) => {
  if (config.probePort !== undefined && config.probePort !== 0 && config.probePort === config.port) {
    context.addIssue({
      code: 'custom',
      path: ['probePort'],
      params: { rule: 'probe_port_apart' },
      message: `must differ from port (${config.port}): the probes get a listener of their own`,
    });
  }
});
export type ServiceConfig = z.infer<typeof ServiceConfig>;
export type ServiceConfigInput = z.input<typeof ServiceConfig>;

/** Environment variables and the field each sets (the first one set wins: CREDENCE_PORT over PORT). */
export const CONFIG_ENV = {
  CREDENCE_PORT: 'port',
  PORT: 'port',
  CREDENCE_HOST: 'host',
  CREDENCE_PROBE_PORT: 'probePort',
  CREDENCE_DATA: 'data',
  CREDENCE_STORE: 'store',
  CREDENCE_LOG_LEVEL: 'logLevel',
  CREDENCE_TICK_MS: 'tickMs',
  CREDENCE_DURABILITY: 'durability',
  CREDENCE_ENTITY_CACHE_MIB: 'entityCacheMiB',
  CREDENCE_SIGNING: 'signing',
  CREDENCE_PUBLIC_URL: 'publicUrl',
  CREDENCE_SECURE_ENVIRONMENT: 'secureEnvironment',
  CREDENCE_TRUST_PROXY: 'trustProxy',
} as const satisfies Record<string, keyof ServiceConfig>;

const MAX_CONFIG_FILE_BYTES = 64 * 1024;

const checkSigningPolicy = (file: string, context: z.RefinementCtx): void => {
  const read = readSigningPolicyFile(file);
  if (!read.ok) for (const problem of read.problems) context.addIssue({ code: 'custom', message: problem });
};

/** What each source may set: the same fields, all optional, nothing else. */
const Partial = z.strictObject({
  ...ServiceConfig.shape,
  host: ServiceConfig.shape.host.unwrap().optional(),
  port: ServiceConfig.shape.port.unwrap().optional(),
  data: ServiceConfig.shape.data.unwrap().optional(),
  logLevel: ServiceConfig.shape.logLevel.unwrap().optional(),
  tickMs: ServiceConfig.shape.tickMs.unwrap().optional(),
  trustProxy: TrustProxy.optional(),
  entityCacheMiB: ServiceConfig.shape.entityCacheMiB.unwrap().optional(),
  pseudonyms: ServicePseudonyms.optional(),
  // Read where it is named, so a bad policy is refused naming its source (`flag --signing`, `env CREDENCE_SIGNING`).
  signing: ServiceConfig.shape.signing.unwrap().superRefine(checkSigningPolicy).optional(),
  limits: ServiceLimitsConfig.partial().optional(),
  tokens: TokenConfig.partial().optional(),
});
type PartialConfig = z.infer<typeof Partial>;

const issuesOf = (error: z.ZodError, where: (path: string) => string): FieldIssue[] =>
  error.issues.flatMap((i): FieldIssue[] => {
    const path = i.path.map(String).join('.');
    // One issue per unknown key, so each is named.
    if (i.code === 'unrecognized_keys') {
      return i.keys.map((k) => ({ path: where(path ? `${path}.${k}` : k), rule: i.code, message: 'unknown setting' }));
    }
    // A cross-field check names its own rule (checkLimitsTogether).
    const rule = i.code === 'custom' && typeof i.params?.['rule'] === 'string' ? (i.params['rule'] as string) : i.code;
    return [{ path: where(path), rule, message: i.message }];
  });

const parseSource = (input: unknown, where: (path: string) => string): PartialConfig => {
  const parsed = Partial.safeParse(input);
  if (!parsed.success) throw validationError(issuesOf(parsed.error, where), 'service configuration');
  return parsed.data;
};

const defined = (o: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

const readConfigFile = (file: string): unknown => {
  const where = `file ${file}`;
  // Bounded while read: a FIFO or a device (/dev/zero) has no size to check beforehand.
  const read = readTextFile(file, MAX_CONFIG_FILE_BYTES);
  if (!read.ok) {
    throw validationError(
      [read.tooLarge === true ? { path: where, rule: 'max_bytes', message: `larger than ${MAX_CONFIG_FILE_BYTES} bytes` } : { path: where, rule: 'readable', message: 'cannot be read' }],
      'service configuration',
    );
  }
  const text = read.value;
  // Refused, not skipped: no other JSON file Credence reads takes one (bounded-files.ts keeps it for the parser to
  // judge), and JSON.parse's "not valid JSON" did not say why.
  if (text.startsWith('\uFEFF')) {
    throw validationError([{ path: where, rule: 'byte_order_mark', message: 'starts with a byte-order mark (U+FEFF), which JSON does not allow: save it as UTF-8 without one' }], 'service configuration');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw validationError([{ path: where, rule: 'json', message: 'is not valid JSON' }], 'service configuration');
  }
  try {
    assertJsonWithin(value, 'service configuration file');
  } catch (error) {
    // Named like every other refusal of the file: `file X: a.b.c: nested deeper than …`.
    if (!isCredenceError(error, 'validation') || error.problem.code !== 'validation') throw error;
    throw validationError(error.problem.issues.map((i) => ({ ...i, path: `${where}: ${i.path || '(root)'}` })), 'service configuration');
  }
  const duplicate = duplicateNameIssue(text);
  if (duplicate !== undefined) throw validationError([{ ...duplicate, path: `${where}: ${duplicate.path}` }], 'service configuration');
  return value;
};

export interface ConfigSources {
  /**
   * Command-line options by field name (`host`, `port`, `probePort`, `data`, `store`, `logLevel`, `tickMs`, `signing`, `secureEnvironment`, `publicUrl`, `trustProxy`;
   * undefined = not given); other keys (the command's own options) are ignored.
   */
  readonly flags?: Readonly<Record<string, unknown>>;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** A JSON file with any of the fields, `limits` and `tokens` included. */
  readonly file?: string;
  /**
   * Told what is accepted but unsafe (an event store password on the command line, or in a config file others may
   * read); the message never holds the secret. Nothing is said without it.
   */
  readonly warn?: (message: string) => void;
}

/** Whether group or others may read `file` (not said on Windows, whose modes do not tell). */
const readableByOthers = (file: string): boolean => {
  if (process.platform === 'win32') return false;
  const stat = statSync(file, { throwIfNoEntry: false });
  return stat !== undefined && (stat.mode & 0o077) !== 0;
};

/**
 * An event store password where others may read it (review 47 item 3): said, not refused, like `--token` (a lab
 * setup keeps working); the alternative is named. Only for a source whose string was accepted.
 */
const warnOfStorePassword = (sources: ConfigSources, fromFile: PartialConfig, fromFlags: PartialConfig): void => {
  if (sources.warn === undefined) return;
  if (storeCarriesPassword(fromFlags.store)) {
    sources.warn(storePasswordOnCommandLine("give it in env CREDENCE_STORE or in the config file's store (--config FILE, chmod 600 FILE) instead"));
  }
  if (sources.file !== undefined && storeCarriesPassword(fromFile.store) && readableByOthers(sources.file)) {
    sources.warn(`file ${sources.file}: store: the connection string carries a password and the file is readable by group or others; chmod 600 ${sources.file}`);
  }
};

const FLAG_FIELDS = ['host', 'port', 'probePort', 'data', 'store', 'logLevel', 'tickMs', 'signing', 'secureEnvironment', 'publicUrl', 'trustProxy'] as const;
const FLAG_NAMES: Record<string, string> = {
  probePort: '--probe-port',
  logLevel: '--log-level',
  tickMs: '--tick-ms',
  secureEnvironment: '--secure-environment',
  publicUrl: '--public-url',
  trustProxy: '--trust-proxy',
};

/**
 * The service configuration from its sources; a `validation` CredenceError whose issues name the source and the
 * field (`env PORT`, `flag --port`, `file ./credence.json: limits.bodyLimitBytes`).
 */
export const loadServiceConfig = (sources: ConfigSources = {}): ServiceConfig => {
  const fromFile = sources.file === undefined ? {} : parseSource(readConfigFile(sources.file), (p) => `file ${sources.file}: ${p || '(root)'}`);
  const env = sources.env ?? {};
  const envInput: Record<string, unknown> = {};
  const envNames: Record<string, string> = {};
  for (const [name, field] of Object.entries(CONFIG_ENV)) {
    const value = env[name];
    if (value === undefined || value === '' || envInput[field] !== undefined) continue;
    envInput[field] = value;
    envNames[field] = name;
  }
  const fromEnv = parseSource(envInput, (p) => `env ${envNames[p.split('.')[0]!] ?? p}`);
  // A command's other options (--json, --config, ...) are not settings: only the settings' own flags are read.
  const flags = Object.fromEntries(FLAG_FIELDS.map((field) => [field, sources.flags?.[field]]));
  const fromFlags = parseSource(defined(flags), (p) => {
    const [field = p, ...entry] = p.split('.');
    return `flag ${FLAG_NAMES[field] ?? `--${field}`}${entry.length > 0 ? `[${entry.join('.')}]` : ''}`;
  });
  warnOfStorePassword(sources, fromFile, fromFlags);
  const merged = {
    ...fromFile,
    ...defined(fromEnv),
    ...defined(fromFlags),
    limits: { ...fromFile.limits, ...fromEnv.limits, ...fromFlags.limits },
    tokens: { ...fromFile.tokens, ...fromEnv.tokens, ...fromFlags.tokens },
  };
  const parsed = ServiceConfig.safeParse(merged);
  if (!parsed.success) throw validationError(issuesOf(parsed.error, (p) => p), 'service configuration');
  return parsed.data;
};

/** A complete configuration from a partial one (tests, the demo): defaults for everything left out. */
export const serviceConfig = (input: ServiceConfigInput = {}): ServiceConfig => {
  const parsed = ServiceConfig.safeParse(input);
  if (!parsed.success) throw validationError(issuesOf(parsed.error, (p) => p), 'service configuration');
  return parsed.data;
};

/**
 * The request-signing policy of `config.signing`, read when the service starts (the file may have changed since the
 * configuration was loaded); a `validation` error naming the field and each problem when it is unusable.
 */
export const signingPolicyOf = (config: ServiceConfig): RequestSigningPolicy | undefined => {
  if (config.signing === undefined) return undefined;
  const read = readSigningPolicyFile(config.signing);
  if (read.ok) return read.policy;
  const issues = read.problems.map((message) => ({ path: 'signing', rule: 'signing_policy', message }));
  throw validationError(issues, 'service configuration');
};
