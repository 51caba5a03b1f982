import { z } from 'zod';
import { validationError, type FieldIssue } from '../../domain/errors.ts';
import { readSigningPolicyFile } from '../runtime/index.ts';
import { signingPolicyRule } from '../runtime/signing-policy-file.ts';
import { FETCH_BAD_PORT_RULE, FETCH_BAD_PORTS } from '../client/http.ts';
import { readConfigFile } from './config-file.ts';
import { issuesOf } from './config-issues.ts';
import { parseSource, type ConfigSources } from './config-sources.ts';
import { unknownVariableIssue, unknownVariables, type UnknownVariable } from './credence-environment.ts';
import { ServiceConfig, type ServiceConfigInput } from './service-config.ts';
import { retiredLimitWarnings, ServiceLimitsConfig } from './service-limits-config.ts';
import { warnOfStorePassword } from './store-password-warning.ts';

/**
 * The configuration of `credence serve`: defaults, then an optional JSON file, then the environment, then flags
 * (later wins). Each source is parsed on its own first, so an error names the field and where it came from.
 */

// Named here too: most modules that name these types load the configuration from here.
export type { ServiceConfig, ServiceConfigInput } from './service-config.ts';

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
  CREDENCE_CHECKPOINT_WITNESS: 'checkpointWitness',
} as const satisfies Record<string, keyof ServiceConfig>;

/**
 * Limits the environment sets too (the others only in the file), and the field each sets under `limits`: the hello
 * floor, which suits the hardware the service runs on and so is set where it is deployed.
 */
export const LIMITS_ENV = {
  CREDENCE_HELLO_FLOOR_MS: 'helloFloorMs',
} as const satisfies Record<string, keyof ServiceLimitsConfig>;

/**
 * Of the limits parsed from the environment, those it set: a partial schema still fills in each field's default, which
 * would undo the file's other limits.
 */
const envSet = (parsed: Record<string, unknown> | undefined, set: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.keys(set).map((field) => [field, parsed?.[field]]));

const defined = (o: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

const FLAG_FIELDS = ['host', 'port', 'probePort', 'data', 'store', 'logLevel', 'tickMs', 'signing', 'secureEnvironment', 'publicUrl', 'trustProxy', 'checkpointWitness'] as const;
const FLAG_NAMES: Record<string, string> = {
  probePort: '--probe-port',
  logLevel: '--log-level',
  tickMs: '--tick-ms',
  secureEnvironment: '--secure-environment',
  publicUrl: '--public-url',
  trustProxy: '--trust-proxy',
  checkpointWitness: '--checkpoint-witness',
};

/**
 * Each set `CREDENCE_*` variable of `env` that no part of Credence reads (unknownVariables), the one a `pkcs11:`
 * `secureEnvironment`'s pin-source=env:NAME names excepted: refused with the configuration, and by the local commands
 * that load none (bin/commands/unknown-variables.ts).
 */
export const unknownSettingVariables = (env: Readonly<Record<string, string | undefined>>, secureEnvironment: unknown): UnknownVariable[] =>
  unknownVariables(env, [...Object.keys(CONFIG_ENV), ...Object.keys(LIMITS_ENV)], secureEnvironment);

/**
 * The service configuration from its sources; a `validation` CredenceError whose issues name the source and the
 * field (`env PORT`, `flag --port`, `file ./credence.json: limits.bodyLimitBytes`). `environment` is the whole
 * environment, when `sources.env` holds only the variables a local command reads (`credence token`, `ca`, `export`):
 * an unknown variable in it is refused all the same (review 123: `CREDENCE_DATA_DIR` beside `credence token create`
 * made a new ./data).
 */
export const loadServiceConfig = (
  sources: ConfigSources = {},
  environment: Readonly<Record<string, string | undefined>> = sources.env ?? {},
  options: LoadOptions = {},
): ServiceConfig => loadServiceSettings(sources, environment, options).config;

/**
 * Who loads the configuration. `serve` (the default): every check, those spanning two settings (`probe_port_apart`,
 * `durability_*`, the limits checked together) and the signing policy file read included. `local`, a local command
 * (`token`, `ca`, `export`, `kek rotate`) that is given only the variables it uses: each setting is still parsed and
 * refused by its own rule, naming its source, but the checks spanning two settings and the signing policy are the
 * service's (review 439: a service-only variable, or a policy owned by the service's account, refused an emergency
 * admin token).
 */
export interface LoadOptions {
  readonly for?: 'serve' | 'local';
}

/** The configuration's fields each checked on its own: ServiceConfig without the checks that span two settings. */
const LocalServiceConfig = z.strictObject({
  ...ServiceConfig.shape,
  limits: ServiceLimitsConfig.default(ServiceLimitsConfig.parse({})),
});

/** A loaded configuration and where each setting of it came from. */
export interface ServiceSettings {
  readonly config: ServiceConfig;
  /**
   * Where the setting at `path` (`host`, `limits.helloFloorMs`) came from, as a refusal names it: `flag --host`,
   * `env CREDENCE_HOST`, `file ./credence.json: host`; undefined for a default. Told from what each source was given
   * when it was loaded, so the file is never opened again (review 434 L3: a pipe cannot be).
   */
  readonly whereSet: (path: string) => string | undefined;
}

/** loadServiceConfig, with where each setting came from (`credence serve` names it in the refusals it makes later). */
export const loadServiceSettings = (
  sources: ConfigSources = {},
  environment: Readonly<Record<string, string | undefined>> = sources.env ?? {},
  options: LoadOptions = {},
): ServiceSettings => {
  const local = options.for === 'local';
  const rawFile = sources.file === undefined ? undefined : readConfigFile(sources.file);
  const fromFile = rawFile === undefined ? {} : parseSource(rawFile, (p) => `file ${sources.file}: ${p || '(root)'}`);
  const env = sources.env ?? {};
  const envInput: Record<string, unknown> = {};
  const envNames: Record<string, string> = {};
  for (const [name, field] of Object.entries(CONFIG_ENV)) {
    const value = env[name];
    if (value === undefined || value === '' || envInput[field] !== undefined) continue;
    envInput[field] = value;
    envNames[field] = name;
  }
  const envLimits: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(LIMITS_ENV)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    envLimits[field] = value;
    envNames[`limits.${field}`] = name;
  }
  if (Object.keys(envLimits).length > 0) envInput['limits'] = envLimits;
  const fromEnv = parseSource(envInput, (p) => `env ${envNames[p] ?? envNames[p.split('.')[0]!] ?? p}`);
  // A command's other options (--json, --config, ...) are not settings: only the settings' own flags are read.
  const flags = Object.fromEntries(FLAG_FIELDS.map((field) => [field, sources.flags?.[field]]));
  const flagName = (field: string): string => `flag ${FLAG_NAMES[field] ?? `--${field}`}`;
  const fromFlags = parseSource(defined(flags), (p) => {
    const [field = p, ...entry] = p.split('.');
    return `${flagName(field)}${entry.length > 0 ? `[${entry.join('.')}]` : ''}`;
  });
  warnOfStorePassword(sources, fromFile, fromFlags);
  // Only the file sets these limits (the environment and the flags set none of them).
  for (const warning of retiredLimitWarnings(fromFile.limits, `file ${sources.file}: `)) sources.warn?.(warning);
  const merged = {
    ...fromFile,
    ...defined(fromEnv),
    ...defined(fromFlags),
    limits: { ...fromFile.limits, ...envSet(fromEnv.limits, envLimits), ...fromFlags.limits },
    tokens: { ...fromFile.tokens, ...fromEnv.tokens, ...fromFlags.tokens },
  };
  // Refused with the rest, before anything is opened or made: a misspelt variable's setting would be silently lost.
  const unknown = unknownSettingVariables(environment, merged.secureEnvironment).map(unknownVariableIssue);
  const parsed: z.ZodSafeParseResult<ServiceConfig> = (local ? LocalServiceConfig : ServiceConfig).safeParse(merged);
  const setBy = whereSet(defined(flags), flagName, envNames, rawFile);
  const named = (p: string): string => {
    const source = setBy(p);
    return source === undefined ? p : source === 'file' ? `file ${sources.file}: ${p}` : source;
  };
  // Review 434 M2: read once, the merged setting's file, named by where it was set (flags over environment over file).
  const signing = parsed.success ? parsed.data.signing : ServiceConfig.shape.signing.safeParse(merged.signing).data;
  const policy = signing === undefined || local ? [] : signingPolicyIssues(signing, named('signing'));
  if (!parsed.success || unknown.length > 0 || policy.length > 0) {
    const also = (p: string): string => {
      const source = setBy(p);
      return source === undefined ? `${p} by default` : `${p} from ${source === 'file' ? `file ${sources.file}` : source}`;
    };
    throw validationError([...unknown, ...(parsed.success ? [] : issuesOf(parsed.error, named, also)), ...policy], 'service configuration');
  }
  return { config: parsed.data, whereSet: (path) => (setBy(path) === undefined ? undefined : named(path)) };
};

/**
 * The problems of the request-signing policy file `file` (readSigningPolicyFile), each at `where`: `readable` when it
 * cannot be read, else `signing_policy` (who may write it, its size, its text and JSON, its fields), the rule the start
 * names. Told by the kind of refusal the reader gives, never by its message: that names the file (a policy at
 * `cannot read policy.json` that others may write was refused as unreadable).
 */
const signingPolicyIssues = (file: string, where: string): FieldIssue[] => {
  const read = readSigningPolicyFile(file);
  if (read.ok) return [];
  const rule = signingPolicyRule(read);
  return read.problems.map((message) => ({ path: where, rule, message }));
};

/**
 * Where the merged setting at `path` came from, by the merge's precedence (flags, environment, file): `flag --port`,
 * `env CREDENCE_PORT`, `file`, or undefined for a default. `limits` and `tokens` merge field by field, the rest whole.
 * Read from what each source was given (the file as written: its partial schema fills in defaults).
 */
const whereSet = (
  flags: Readonly<Record<string, unknown>>,
  flagName: (field: string) => string,
  envNames: Readonly<Record<string, string>>,
  rawFile: unknown,
): ((path: string) => string | undefined) => (path) => {
  const [top = path, field] = path.split('.');
  const key = (top === 'limits' || top === 'tokens') && field !== undefined ? `${top}.${field}` : top;
  if (!key.includes('.') && flags[key] !== undefined) return flagName(key);
  if (envNames[key] !== undefined) return `env ${envNames[key]}`;
  let value: unknown = rawFile;
  for (const part of key.split('.')) value = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>)[part] : undefined;
  return value === undefined ? undefined : 'file';
};

/** A complete configuration from a partial one (tests, the demo): defaults for everything left out. */
export const serviceConfig = (input: ServiceConfigInput = {}): ServiceConfig => {
  const parsed = ServiceConfig.safeParse(input);
  if (!parsed.success) throw validationError(issuesOf(parsed.error, (p) => p), 'service configuration');
  return parsed.data;
};

/**
 * The warning of a service listening on `port` when fetch refuses it (adapters/client/http.ts FETCH_BAD_PORTS), else
 * undefined: it serves, but neither a browser (the console) nor the CLI reaches it (review 271). Said, not refused: a
 * client that is no fetch (curl, a device's own stack) still reaches it.
 */
export const fetchRefusedPortWarning = (port: number): string | undefined =>
  FETCH_BAD_PORTS.has(port)
    ? `port ${port} is ${FETCH_BAD_PORT_RULE}: browsers (the console) and the CLI cannot reach this service there; serve on another port`
    : undefined;
