import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import { LOG_KEY_OWNER, readHandleFile } from '../../adapters/driven/transparency/secure-environment-signer.ts';
import { validationError } from '../../domain/errors.ts';
import type { KeyHandle } from '../../domain/ports/index.ts';
import type { Io } from '../io.ts';
import { handler, parseOptions, runCommands, UsageError, type RegisterCommands } from '../program.ts';
import { destroyFolderKey } from './destroy-folder-key.ts';
import { KeyFolderOptions, keyFoldersOf, withKeyFolders } from './key-folders.ts';
import { logKeyInUse } from './keys-in-use.ts';
import { PathArg } from './options.ts';

const Options = z.object({
  ...KeyFolderOptions,
  handleFile: PathArg,
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
 * folder and its KEK (or the token's PIN) could sign checkpoints for the log auditors pinned. Through the log key's
 * own owner, so no key of another owner (a CA's, the token key) can be named (destroyFolderKey). The key in use, the
 * one the folder's `transparency.handle` names, is refused: destroyed, the log could sign nothing and a new key would
 * fork it.
 */
const destroy = async (args: Options, io: Io): Promise<number> => {
  const handle = readHandleArg(args.handleFile);
  const refuseInUse = (folder: string): void => {
    const inUse = logKeyInUse(folder, handle);
    if (inUse !== undefined) throw validationError([{ path: '--handle-file', rule: inUse.rule, message: `${args.handleFile} names ${handle}, ${inUse.message} [${inUse.rule}]` }], 'log key');
  };
  return destroyFolderKey(await keyFoldersOf(args, io), { owner: LOG_KEY_OWNER, handle, noun: 'log key', refuseInUse }, io);
};

/** `credence log-key destroy --handle-file FILE [--data DIR…] [--token-not-shared] [--config FILE]`: the services stopped. */
export const register: RegisterCommands = (program, io) => {
  const logKey = program.command('log-key').description("the transparency log's key in the Secure Environment (locally, the service stopped)");
  const destroyCommand: Command = withKeyFolders(logKey.command('destroy'))
    .description('destroy a retired log key, named by the transparency.handle moved aside with its old log; the key in use is refused')
    .requiredOption('--handle-file <file>', 'the retired key\'s handle file (a transparency.handle moved aside)')
    .action(handler(io, async (opts: Record<string, unknown>) => destroy(parseOptions(destroyCommand, Options, opts), io)));
};

/** The command on its own: `run(['destroy', '--data', dir, '--handle-file', file], io)`. */
export const run = (argv: string[], io: Io): Promise<number> => runCommands([register], ['log-key', ...argv], io);
