import type { Command } from 'commander';
import { z } from 'zod';
import { isCredenceError } from '../../domain/errors.ts';
import type { Io } from '../io.ts';
import { handler, parseOptions, UsageError, type RegisterCommands } from '../program.ts';
import { PathArg } from './options.ts';

const Options = z.object({
  data: PathArg.optional(),
  // Checked and given meaning by the service configuration (loadServiceConfig); bounded here first.
  host: z.string().max(255).optional(),
  port: z.string().max(16).optional(),
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
    return loadServiceConfig({ flags: { data: o.data, host: o.host, port: o.port ?? defaults.port, logLevel }, env });
  } catch (error) {
    if (isCredenceError(error, 'validation') && error.problem.code === 'validation') {
      throw new UsageError(error.problem.issues.map((i) => `${i.path}: ${i.message}`));
    }
    throw error;
  }
};

const withOptions = (command: Command, port: string): Command =>
  command
    .option('--data <dir>', 'the data folder (env CREDENCE_DATA; default ./data)')
    .option('--host <host>', 'address to listen on (env CREDENCE_HOST; default 127.0.0.1)')
    .option('--port <port>', `port to listen on, 0 for any (${port})`)
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
        const config = await loadConfig(parseOptions(start, Options, opts), io, {});
        // After the usage is checked (a wrong flag costs no build), before the service serves the bundle.
        await (await import('./console-bundle.ts')).rebuildStaleConsoleBundle(io);
        return (await import('./demo.ts')).start({ config, keepServing: true }, io);
      }),
    );
  const demo: Command = withOptions(program.command('demo'), 'default 0: any free port')
    .description('run the demo fleet through a server on the data folder (when its store is empty), show where the fleet stands, and stop')
    .action(
      handler(io, async (opts: Record<string, unknown>) => {
        const config = await loadConfig(parseOptions(demo, Options, opts), io, { port: '0' });
        return (await import('./demo.ts')).start({ config, keepServing: false }, io);
      }),
    );
};
