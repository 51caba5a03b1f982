import type { Command } from 'commander';
import { z } from 'zod';
import { refuseDataFolderInUse } from '../../adapters/driven/files/data-folder-held.ts';
import { isCredenceError } from '../../domain/errors.ts';
import type { ServiceConfig } from '../../adapters/http/index.ts';
import type { Io } from '../io.ts';
import { handler, parseOptions, UsageError, type RegisterCommands } from '../program.ts';
import type { StartRequest } from './demo.ts';
import { plainLogLines } from './demo/plain-log-lines.ts';
import { PathArg } from './options.ts';
import { assertWitnessSetting, publicUrlRefusalAsUsage, settingSource, witnessSource, type PublicUrlSources } from './start-setting-refusal.ts';

const Options = z.object({
  data: PathArg.optional(),
  // Checked and given meaning by the service configuration (loadServiceConfig); bounded here first.
  host: z.string().max(255).optional(),
  port: z.string().max(16).optional(),
  publicUrl: z.string().min(1).max(2048).optional(),
  logLevel: z.string().max(16).optional(),
});
type Options = z.infer<typeof Options>;

/**
 * The service configuration as `credence serve` reads it (flags over the environment over defaults), except the
 * log level: warnings and errors only unless asked, since the terminal is for the demo's own lines.
 */
const loadConfig = async (o: Options, io: Io, defaults: { port?: string }) => {
  const { loadServiceConfig } = await import('../../adapters/http/config.ts');
  const env = io.env ?? process.env;
  const logLevel = o.logLevel ?? (env['CREDENCE_LOG_LEVEL'] ? undefined : 'warn');
  try {
    return loadServiceConfig({ flags: { data: o.data, host: o.host, port: o.port ?? defaults.port, publicUrl: o.publicUrl, logLevel }, env });
  } catch (error) {
    if (isCredenceError(error, 'validation') && error.problem.code === 'validation') {
      throw new UsageError(error.problem.issues.map((i) => `${i.path}: ${i.message}`));
    }
    throw error;
  }
};

/** Where the host and the public URL came from, for a refusal that names them. */
const sourcesOf = (o: Options, io: Io): PublicUrlSources => {
  const env = io.env ?? process.env;
  return {
    host: settingSource('--host', o.host, 'CREDENCE_HOST', env),
    publicUrl: o.publicUrl !== undefined || env['CREDENCE_PUBLIC_URL'] ? settingSource('--public-url', o.publicUrl, 'CREDENCE_PUBLIC_URL', env) : undefined,
  };
};

/**
 * A wildcard host without a public URL refused before anything is built or made (review 49: the demo CA, the Secure
 * Environment and access.db were made first; the review of that fix: still so on an existing empty store and on an external one),
 * as the bad setting it is (exit 2), naming where it came from.
 */
const refuseUnpublishableHost = async (config: ServiceConfig, o: Options, io: Io): Promise<void> => {
  const { refuseUnpublishableHost: refuse } = await import('./demo.ts');
  try {
    await refuse(config);
  } catch (error) {
    throw publicUrlRefusalAsUsage(error, sourcesOf(o, io));
  }
};

/**
 * The demo's own start, its refusal of a wildcard host without a public URL (when only the second start knows it: a
 * host name that binds to a wildcard address) said as the bad setting it is (exit 2), naming the flag or variable it
 * came from (review 46).
 */
const startDemo = async (request: StartRequest, o: Options, io: Io): Promise<number> =>
  (await import('./demo.ts')).start(request, io).catch((error: unknown) => {
    throw publicUrlRefusalAsUsage(error, sourcesOf(o, io));
  });

const withOptions = (command: Command, port: string): Command =>
  command
    .option('--data <dir>', 'the data folder (env CREDENCE_DATA; default ./data)')
    .option('--host <host>', 'address to listen on (env CREDENCE_HOST; default 127.0.0.1)')
    .option('--port <port>', `port to listen on, 0 for any (${port})`)
    .option('--public-url <url>', 'the URL relying parties reach this service at, named in issued certificates (CRL, OCSP; env CREDENCE_PUBLIC_URL; default http://<host>:<port>); needed with --host 0.0.0.0')
    .option('--log-level <level>', "the service's JSON log lines on stderr: fatal, error, warn, info, debug, trace or silent (default warn)");

/**
 * `credence start` (`npm start`) and `credence demo`: the service on the data folder, with the demo fleet run
 * through it on an empty store (bin/commands/demo.ts, loaded on demand: other commands do not pay for it).
 * `start` first rebuilds a missing or stale console bundle (console-bundle.ts).
 */
export const register: RegisterCommands = (program, io) => {
  const start: Command = withOptions(program.command('start'), 'env PORT or CREDENCE_PORT; default 8080')
    .description('npm start: serve the data folder; on an empty store, run the demo fleet through the server first; prints the URL and local tokens (until Ctrl-C)')
    .action(
      handler(io, async (opts: Record<string, unknown>) => {
        const o = parseOptions(start, Options, opts);
        const config = await loadConfig(o, io, {});
        assertWitnessSetting(config.checkpointWitness, config.data, witnessSource(undefined, io.env ?? process.env, undefined));
        await refuseUnpublishableHost(config, o, io);
        // Before the port is tried (review 136): a second npm start on the folder is told whose it is, not the port's.
        refuseDataFolderInUse(config.data);
        // After the usage is checked (a wrong flag costs no build), before the service serves the bundle.
        await (await import('./console-bundle.ts')).rebuildStaleConsoleBundle(io);
        return startDemo({ config, keepServing: true }, o, io);
      }),
    );
  const demo: Command = withOptions(program.command('demo'), 'default 0: any free port')
    .description('run the demo fleet through a server on the data folder (when its store is empty), show where the fleet stands, and stop')
    .action(
      handler(io, async (opts: Record<string, unknown>) => {
        const o = parseOptions(demo, Options, opts);
        const config = await loadConfig(o, io, { port: '0' });
        assertWitnessSetting(config.checkpointWitness, config.data, witnessSource(undefined, io.env ?? process.env, undefined));
        await refuseUnpublishableHost(config, o, io);
        refuseDataFolderInUse(config.data);
        // The service's warnings as plain lines among the demo's own, unless its JSON log was asked for (--log-level).
        const asked = o.logLevel !== undefined || Boolean((io.env ?? process.env)['CREDENCE_LOG_LEVEL']);
        return startDemo({ config, keepServing: false, ...(asked ? {} : { logStream: plainLogLines(io) }) }, o, io);
      }),
    );
};
