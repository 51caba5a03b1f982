import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { KEY_HANDLE_FILE, LOG_KEY_OWNER, readHandleFile } from '../../adapters/driven/transparency/secure-environment-signer.ts';
import { isKeyNotFound, validationError } from '../../domain/errors.ts';
import { ownerView, type KeyHandle } from '../../domain/ports/index.ts';
import type { Io } from '../io.ts';
import { printable } from '../printable.ts';
import { handler, parseOptions, runCommands, UsageError, type RegisterCommands } from '../program.ts';
import { exportSettings } from './export-log-key.ts';
import { unusableDataFolderAsUsage } from './folder-lock.ts';
import { PathArg } from './options.ts';

const Options = z.object({
  data: PathArg.optional(),
  handleFile: PathArg,
  config: PathArg.optional(),
});
type Options = z.infer<typeof Options>;

/** A handle is `key_` and 24 characters and a line end: anything much longer is no handle file, and is not read whole. */
const HANDLE_FILE_MAX_BYTES = 256;

/** The handle --handle-file names, read as the folder's own `transparency.handle` is; bad usage (exit 2) otherwise. */
const readHandleArg = (path: string): KeyHandle => {
  let size: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw new UsageError(`--handle-file: ${path} is not a file`);
    size = stat.size;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`--handle-file: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
  if (size > HANDLE_FILE_MAX_BYTES) throw new UsageError(`--handle-file: ${path} is ${size} bytes, no key handle file (key_ and 24 characters)`);
  try {
    return readHandleFile(path);
  } catch {
    // The reader's remedy is for the folder's own file (restore it); this one is only asked to name a key.
    throw new UsageError(`--handle-file: ${path} does not hold a key handle (key_ and 24 characters)`);
  }
};

/**
 * Destroys a retired log key (README "Restoring the event store from a backup", step 4; review 56 finding 4): the
 * handle moved aside with an old log names a key its Secure Environment still holds, with which anyone who has the
 * folder and its KEK (or the token's PIN) could sign checkpoints for the log auditors pinned. Under the folder's lock,
 * so no service starts meanwhile and generates or uses a key; through the log key's own owner, so no key of another
 * owner (a CA's, the token key) can be named. The key in use, the one the folder's `transparency.handle` names, is
 * refused: destroyed, the log could sign nothing and a new key would fork it.
 */
const destroy = async (args: Options, io: Io): Promise<number> => {
  const handle = readHandleArg(args.handleFile);
  const { data, secureEnvironment } = await exportSettings(args, io);
  if (!existsSync(data) || !statSync(data).isDirectory()) throw new UsageError(`--data: no data folder at ${data}`);
  const env = io.env ?? process.env;
  const runtime = await import('../../adapters/runtime/data-folder.ts');
  const { secureEnvironmentConfigForDataDir } = await import('../../adapters/driven/secure-environment/index.ts');
  // Opening the embedded one would make an empty key database: a folder without one keeps its keys in an HSM.
  if (runtime.isEmbedded(secureEnvironment) && !existsSync(secureEnvironmentConfigForDataDir(data).database)) {
    throw new UsageError(
      `${data} has no embedded Secure Environment: set CREDENCE_SECURE_ENVIRONMENT to the pkcs11: URI the service runs with, or give --config with the service's configuration file`,
    );
  }
  let lock;
  try {
    lock = runtime.lockDataFolder(data, env);
  } catch (error) {
    throw unusableDataFolderAsUsage(error);
  }
  try {
    const inUse = join(data, KEY_HANDLE_FILE);
    if (existsSync(inUse) && readHandleFile(inUse) === handle) {
      throw validationError(
        [{ path: '--handle-file', rule: 'log_key_in_use', message: `${args.handleFile} names ${handle}, the log key ${inUse} names, which signs the folder's log: nothing destroyed` }],
        'log key',
      );
    }
    const se = runtime.openServiceSecureEnvironment(data, secureEnvironment, { now: () => new Date(), env });
    try {
      const gone = await ownerView(se, LOG_KEY_OWNER)
        .destroy(handle)
        .then(
          () => false,
          (error: unknown) => {
            if (isKeyNotFound(error)) return true;
            throw error;
          },
        );
      io.out(printable(gone ? `log key ${handle} is already destroyed (${data})` : `destroyed log key ${handle} (${LOG_KEY_OWNER}) in the Secure Environment of ${data}`));
      return 0;
    } finally {
      se.close();
    }
  } finally {
    lock.release();
  }
};

/** `credence log-key destroy --handle-file FILE [--data DIR] [--config FILE]`: the service stopped. */
export const register: RegisterCommands = (program, io) => {
  const logKey = program.command('log-key').description("the transparency log's key in the Secure Environment (locally, the service stopped)");
  const destroyCommand: Command = logKey
    .command('destroy')
    .description('destroy a retired log key, named by the transparency.handle moved aside with its old log; the key in use is refused')
    .option('--data <dir>', 'the data folder (default ./data, or the --config file\'s)')
    .requiredOption('--handle-file <file>', 'the retired key\'s handle file (a transparency.handle moved aside)')
    .option(
      '--config <file>',
      "the service's configuration file (JSON, as credence serve --config): its data folder unless --data, its Secure Environment unless env CREDENCE_SECURE_ENVIRONMENT",
    )
    .action(handler(io, async (opts: Record<string, unknown>) => destroy(parseOptions(destroyCommand, Options, opts), io)));
};

/** The command on its own: `run(['destroy', '--data', dir, '--handle-file', file], io)`. */
export const run = (argv: string[], io: Io): Promise<number> => runCommands([register], ['log-key', ...argv], io);
