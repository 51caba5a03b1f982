import type { Command } from 'commander';
import { z } from 'zod';
import { StoreConnectionString } from '../../adapters/driven/store/index.ts';
import { parsePkcs11Uri } from '../../adapters/driven/secure-environment/index.ts';
import { refuseDataFolderInUse } from '../../adapters/driven/files/data-folder-held.ts';
import { isCredenceError } from '../../domain/errors.ts';
import type { Io } from '../io.ts';
import { printable } from '../printable.ts';
import { namingRefusedWritesIn, writePlacesOfStart } from '../write-failure.ts';
import { handler, parseOptions, UsageError, type RegisterCommands } from '../program.ts';
import { unusableDataFolderAsUsage } from './folder-lock.ts';
import { PathArg } from './options.ts';
import { assertWitnessSetting, publicUrlRefusalAsUsage, witnessSource, type PublicUrlSources } from './start-setting-refusal.ts';

const Options = z.object({
  data: PathArg.optional(),
  store: z.string().optional(),
  host: z.string().optional(),
  port: z.string().optional(),
  probePort: z.string().optional(),
  config: PathArg.optional(),
  logLevel: z.string().optional(),
  tickMs: z.string().optional(),
  signing: PathArg.optional(),
  secureEnvironment: z.string().min(1).max(8192).optional(),
  publicUrl: z.string().min(1).max(2048).optional(),
  trustProxy: z.string().min(1).max(4096).optional(),
  checkpointWitness: z.string().min(1).max(4096).optional(),
});

/**
 * The configuration, from flags over the environment over the file over defaults (adapters/http/config.ts); an
 * error names the field and where it came from (`flag --port`, `env PORT`, `file x.json: limits.…`): bad usage.
 */
const loadConfig = async (args: z.infer<typeof Options>, io: Io) => {
  const { loadServiceSettings } = await import('../../adapters/http/config.ts');
  try {
    // With where each setting came from, told as it was loaded: the --config file is never opened again (review 434
    // L3: a pipe, `--config <(envsubst …)`, cannot be, and a refusal named `--host (default)` for its host).
    return loadServiceSettings({
      flags: { data: args.data, store: args.store, host: args.host, port: args.port, probePort: args.probePort, logLevel: args.logLevel, tickMs: args.tickMs, signing: args.signing, secureEnvironment: args.secureEnvironment, publicUrl: args.publicUrl, trustProxy: args.trustProxy, checkpointWitness: args.checkpointWitness },
      env: io.env ?? process.env,
      ...(args.config !== undefined ? { file: args.config } : {}),
      // The operator's file name may be in it: through printable, like every line the service prints for a person.
      warn: (message) => io.err(printable(`warning: ${message}`)),
    });
  } catch (error) {
    if (isCredenceError(error, 'validation') && error.problem.code === 'validation') {
      throw new UsageError(error.problem.issues.map((i) => `${i.path}: ${i.message}`));
    }
    throw error;
  }
};

/** Where the host and the public URL came from (`flag --host`, `env CREDENCE_HOST`, `file c.json: host`). */
const publicUrlSources = (whereSet: (path: string) => string | undefined): PublicUrlSources => ({
  host: whereSet('host') ?? '--host (default)',
  publicUrl: whereSet('publicUrl'),
});

/**
 * What the startup line says of the event store when it is not the data folder's own: the kind of store (never the
 * connection string, which may carry credentials), or the folder of an embedded store elsewhere.
 */
const storeNote = (store: string | undefined): string => {
  if (store === undefined) return '';
  const location = StoreConnectionString.parse(store); // loadServiceConfig has checked it
  switch (location.kind) {
    case 'sqlite':
      return `, events in the embedded store in ${location.dir}`;
    case 'sqlite-memory':
      return ', events in memory: gone when it stops';
    case 'eventstoredb':
      return ', events in EventStoreDB';
  }
};

/** Where the keys are, when not in the data folder: the token's label only (the URI names files; never a PIN). */
const keysNote = (setting: string | undefined): string => {
  if (setting === undefined || setting === 'embedded') return '';
  return `, keys in PKCS#11 token "${parsePkcs11Uri(setting).token.label}"`; // loadServiceConfig has checked it
};

/**
 * The settings serve reads that have no flag, so that `serve --help` names every variable it reads (review 236: four
 * were only in docs/service.md). A test holds this to the configuration's own lists (CONFIG_ENV, LIMITS_ENV).
 */
const UNFLAGGED_SETTINGS = [
  '',
  'Settings without a flag (environment, or --config\'s file but for the last two; docs/service.md "Configuration"):',
  '  CREDENCE_DURABILITY        when the embedded store acknowledges an append: full (synced to disk, the default) or normal (written to the OS)',
  '  CREDENCE_ENTITY_CACHE_MIB  MiB of entity snapshots kept between commands, 0 to 65536 (default 64)',
  '  CREDENCE_HELLO_FLOOR_MS    least time in ms before a device hello is answered, 0 to 1000 (default 50; limits.helloFloorMs)',
  '  CREDENCE_KEK_FILE          the embedded Secure Environment\'s KEK, an absolute path outside the data folder',
  '  CREDENCE_PKCS11_PIN        the PKCS#11 user PIN when the --secure-environment URI names no pin-source',
].join('\n');

/**
 * `credence serve`: the service on the data folder (or the store of `--store`), until SIGTERM or SIGINT start its
 * graceful shutdown. JSON logs go to stdout; the address, for a person, to stderr.
 */
export const register: RegisterCommands = (program, io) => {
  const command: Command = program
    .command('serve')
    .description('run Credence as a service: the HTTP API, live projections, device endpoints (until SIGTERM / SIGINT)')
    .option('--data <dir>', 'the data folder (env CREDENCE_DATA; default ./data)')
    .option(
      '--store <connection>',
      'where the events live: esdb://… or kurrentdb://… (EventStoreDB / KurrentDB), sqlite:<folder> (the embedded store in another folder) or sqlite::memory: (env CREDENCE_STORE; default: the embedded store in the data folder); a user:password@ here shows in ps and shell history, prefer CREDENCE_STORE or the config file',
    )
    .option('--host <host>', 'address to listen on (env CREDENCE_HOST; default 127.0.0.1)')
    .option('--port <port>', 'port to listen on, 0 for any (env PORT or CREDENCE_PORT; default 8080)')
    .option('--probe-port <port>', 'a port of their own for /healthz, /readyz and /metrics, 0 for any; /metrics then leaves the API port (env CREDENCE_PROBE_PORT; default: the API port only)')
    .option('--config <file>', 'a JSON file with any setting, limits and tokens included (flags and environment win over it)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (env CREDENCE_LOG_LEVEL; default info)')
    .option('--tick-ms <ms>', 'how often expiry and pseudonym rotation run (env CREDENCE_TICK_MS; default 1000)')
    .option('--signing <file>', 'request-signing policy (JSON, SER-016) that POST /v1/commands verifies against (env CREDENCE_SIGNING)')
    .option('--public-url <url>', 'the URL relying parties reach this service at, named in issued certificates (CRL, OCSP; env CREDENCE_PUBLIC_URL; default http://<host>:<port>)')
    .option(
      '--trust-proxy <addresses>',
      'reverse proxies whose X-Forwarded-For names the client: addresses, CIDR ranges, loopback, linklocal or uniquelocal, comma-separated (env CREDENCE_TRUST_PROXY; default none)',
    )
    .option(
      '--checkpoint-witness <file>',
      "an absolute path outside the data folder where the service keeps its transparency log's latest checkpoint; a start refuses a log that does not extend it (env CREDENCE_CHECKPOINT_WITNESS; default none)",
    )
    .option(
      '--secure-environment <uri>',
      "where the infrastructure's keys live: embedded (default) or a pkcs11: URI, PIN from its pin-source file or env CREDENCE_PKCS11_PIN, never here (env CREDENCE_SECURE_ENVIRONMENT; docs/hsm.md)",
    )
    .addHelpText('after', UNFLAGGED_SETTINGS)
    .action(
      handler(io, async (opts: Record<string, unknown>) => {
        const args = parseOptions(command, Options, opts);
        const { config, whereSet } = await loadConfig(args, io);
        assertWitnessSetting(config.checkpointWitness, config.data, witnessSource(args.checkpointWitness, io.env ?? process.env, args.config));
        // Before the port is tried: a second service on the folder is told whose it is, not to stop what holds the port.
        refuseDataFolderInUse(config.data);
        // Loaded here, not at the top: the other commands need none of Fastify.
        const { startService, DOCS_PREFIX, StoppedBeforeServing } = await import('../../adapters/http/index.ts');
        // The folder of an embedded store elsewhere is locked by the start (review 174), named by where the store came from.
        const storeSetting = whereSet('store') ?? 'store';
        // Review 373: a full disk or a read-only folder said SQLite's bare `disk I/O error`; the place is named, as
        // `token` and `export` name it (review 377: where it can be told which, the store's folder elsewhere, the witness,
        // the KEK file; else every place the start writes, SQLite not saying which of its files).
        const starting = namingRefusedWritesIn(writePlacesOfStart(config), () => startService(config, { handleSignals: true, storeSetting }));
        const service = await starting.catch((error: unknown) => {
          // A signal during the first catch-up (a rebuild): everything opened is closed again, a stop asked for (review 52).
          if (error instanceof StoppedBeforeServing) return undefined;
          // A wildcard host without a reachable public URL, known once the issuing CAs are loaded, is a bad setting
          // like any loadConfig refuses (exit 2), named with where it came from, as start and demo say it (review 46).
          throw publicUrlRefusalAsUsage(unusableDataFolderAsUsage(error), publicUrlSources(whereSet));
        });
        if (service === undefined) {
          io.err('Credence stopped before it served');
          return 0;
        }
        // The folders and the token label are the operator's text (flags, environment, the file): through printable,
        // so a line break or an escape in one cannot pass for, or rewrite, the service's own lines.
        io.err(printable(`Credence listening on ${service.url} (data ${config.data}${storeNote(config.store)}${keysNote(config.secureEnvironment)})`));
        io.err(`  API docs: ${service.url}${DOCS_PREFIX}   OpenAPI: ${service.url}/openapi.json`);
        if (service.probeUrl !== undefined) io.err(`  probes: ${service.probeUrl}/healthz, /readyz, /metrics`);
        // Bound beyond loopback (review 373): said at warn in the log too; the public URL in it is the operator's text.
        if (service.plainHttpWarning !== undefined) io.err(printable(`warning: ${service.plainHttpWarning}`));
        io.err('  Ctrl-C (SIGINT) or SIGTERM stops it gracefully');
        // The port it listens on, which --port 0 chose: one fetch refuses is reached by neither the console nor the CLI.
        const { fetchRefusedPortWarning } = await import('../../adapters/http/config.ts');
        const refusedPort = fetchRefusedPortWarning(Number(new URL(service.url).port));
        if (refusedPort !== undefined) io.err(`warning: ${refusedPort}`);
        await service.closed;
        io.err('Credence stopped');
        return 0;
      }),
    );
};
