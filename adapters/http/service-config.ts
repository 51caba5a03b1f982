import { z } from 'zod';
import type { FieldIssue } from '../../domain/errors.ts';
import { MAX_CONNECTION_STRING_CHARS } from '../../domain/json-limits.ts';
import { pkiBaseUrlIssues } from '../../domain/x509/issuing-ca.ts';
import { parsePkcs11Uri, StoreConnectionString } from '../runtime/index.ts';
import { CheckpointWitnessPath } from '../runtime/checkpoint-witness-file.ts';
import { EDGE_SPACES, int, withoutControls, withoutEdgeSpaces } from './config-values.ts';
import { publicUrlPortIssue } from './public-url.ts';
import { rotationPolicyOf, ServicePseudonyms } from './pseudonym-rotation-setting.ts';
import { checkLimitsTogether, ServiceLimitsConfig } from './service-limits-config.ts';
import { TokenConfig } from './token-config.ts';
import { TrustProxy } from './trust-proxy.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

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
  data: withoutEdgeSpaces(withoutControls(z.string().min(1).max(4_096))).default('./data'),
  /** EventStoreDB/KurrentDB connection string (`esdb://…`, `kurrentdb://…`); the embedded store when absent. */
  // Review 373 item 4: too long was said twice, in zod's words and StoreConnectionString's; once now, in ours, and
  // nothing more is checked of it (abort).
  store: withoutControls(z.string().min(1).max(MAX_CONNECTION_STRING_CHARS, { error: `must be at most ${MAX_CONNECTION_STRING_CHARS} characters`, abort: true }))
    // Checked here so a bad one is refused before anything opens; the messages never repeat it (credentials).
    .superRefine((value, context) => {
      const parsed = StoreConnectionString.safeParse(value);
      if (!parsed.success) for (const issue of parsed.error.issues) context.addIssue({ code: 'custom', message: issue.message });
      // A sqlite: folder with a space at either end (the string trimmed whole, or the folder before its `?`), as `data`;
      // an EventStoreDB string is the client's, which trims it.
      else if (parsed.data.kind === 'sqlite' && (value !== value.trim() || parsed.data.dir !== parsed.data.dir.trim())) {
        context.addIssue({ code: 'custom', params: { rule: 'edge_spaces' }, message: `a sqlite: folder path ${EDGE_SPACES}` });
      }
    })
    .optional(),
  logLevel: z.enum(LOG_LEVELS).default('info'),
  /**
   * A JSON file with the deployment's request-signing policy (SER-016): which commands POST /v1/commands accepts only
   * signed, and the keys of the actors who sign. Without it no command needs a signature, and one attached is
   * recorded unverified (`signed` in the audit trail).
   */
  signing: withoutEdgeSpaces(withoutControls(z.string().min(1).max(4_096))).optional(),
  /**
   * Where the infrastructure's keys live (SER-023, issue 16): `embedded` (the data folder's, the default) or an
   * RFC 7512 `pkcs11:` URI (docs/hsm.md). Checked here, before anything opens; a PIN is never in it (`pin-value` is
   * refused): it comes from the URI's pin-source file or CREDENCE_PKCS11_PIN.
   */
  /**
   * A file outside the data folder where the service keeps its transparency log's latest checkpoint (review 98): a
   * start refuses a log that does not extend it, so a log rewritten with its checkpoints removed while the service was
   * stopped is never signed. Unset: no copy is kept, and only an auditor's kept checkpoint finds such a rewrite.
   */
  checkpointWitness: CheckpointWitnessPath.optional(),
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
        // The parser's own rule (refused_attribute, fragment, scheme, …), not `custom` (review 324 item 2).
        for (const issue of issues) context.addIssue({ code: 'custom', params: { rule: issue.rule }, message: `PKCS#11 URI ${issue.path}: ${issue.message}` });
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
      const issues = pkiBaseUrlIssues(value);
      for (const { rule, message } of issues) context.addIssue({ code: 'custom', params: { rule }, message });
      const port = issues.length === 0 ? publicUrlPortIssue(value) : undefined;
      if (port !== undefined) context.addIssue({ code: 'custom', params: { rule: port.rule }, message: port.message });
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
      params: { rule: 'probe_port_apart', also: ['port'] },
      message: `must differ from port (${config.port}): the probes get a listener of their own`,
    });
  }
  // Review 298 item 2: checked here, not first when the store opens (exit 1, naming neither setting's source).
  const location = config.durability === undefined || config.store === undefined ? undefined : StoreConnectionString.safeParse(config.store).data;
  // Review 324 item 4: only the embedded store in a folder syncs to disk; beside an EventStoreDB store (the server's
  // own durability) or an in-memory one the setting did nothing, accepted without a word. Only `normal` is refused
  // there: `full`, the default, changes nothing, so a template naming it serves every store (review 333); beside an
  // in-memory store naming `normal` it is still the conflict below.
  if (location !== undefined && location.kind !== 'sqlite' && config.durability !== 'full') {
    context.addIssue({
      code: 'custom',
      path: ['durability'],
      params: { rule: 'durability_not_applicable', also: ['store'] },
      message: `applies to the embedded store in a folder only, not to ${location.kind === 'eventstoredb' ? 'an EventStoreDB store (its durability is the server\'s)' : 'an in-memory store (nothing is synced)'}: leave it unset, or full (the default, which changes nothing there)`,
    });
    return;
  }
  const said = location === undefined || location.kind === 'eventstoredb' ? undefined : location.durability;
  if (said !== undefined && said !== config.durability) {
    context.addIssue({
      code: 'custom',
      path: ['durability'],
      params: { rule: 'durability_conflict', also: ['store'] },
      message: `says ${config.durability}, the store's connection string durability=${said}: give it in one of them, or the same in both`,
    });
  }
});
export type ServiceConfig = z.infer<typeof ServiceConfig>;
export type ServiceConfigInput = z.input<typeof ServiceConfig>;
