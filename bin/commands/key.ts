import type { Command } from 'commander';
import { z } from 'zod';
import { validationError } from '../../domain/errors.ts';
import { KeyHandle } from '../../domain/ports/index.ts';
import type { Io } from '../io.ts';
import { handler, parseOptions, runCommands, type RegisterCommands } from '../program.ts';
import { destroyFolderKey } from './destroy-folder-key.ts';
import { exportSettings } from './export-log-key.ts';
import { KeyFolderOptions, withKeyFolders } from './key-folders.ts';
import { KEY_OWNERS } from './keys-in-use.ts';
import { PathArg } from './options.ts';

const OWNERS = Object.keys(KEY_OWNERS);

const Options = z.object({
  ...KeyFolderOptions,
  config: PathArg.optional(),
  owner: z.string().refine((owner) => Object.hasOwn(KEY_OWNERS, owner), { error: `not an owner this command knows: one of ${OWNERS.join(', ')}` }),
  handle: z.string().transform((value, ctx) => {
    const parsed = KeyHandle.safeParse(value);
    if (parsed.success) return parsed.data;
    ctx.issues.push({ code: 'custom', input: value, message: 'not a key handle (key_ and 24 characters)' });
    return z.NEVER;
  }),
});
type Options = z.infer<typeof Options>;

/**
 * Destroys a key of the data folder's Secure Environment that nothing of the folder names: the one an error said is
 * "left in the Secure Environment (owner X), named by nothing" (domain/ports/destroy-new-key.ts), which no other
 * command could ever find again. Only through the owner that error named, and only an owner whose records this command
 * reads (keys-in-use.ts): a key any of them names is refused (`validation`, the rule naming the record), since its
 * folder still signs, verifies or derives with it.
 */
const destroy = async (args: Options, io: Io): Promise<number> => {
  const { owner, handle } = args;
  const { data, secureEnvironment } = await exportSettings({ ...args, data: args.data?.[0] }, io);
  const refuseInUse = async (folder: string): Promise<void> => {
    const inUse = await KEY_OWNERS[owner]!(folder, handle);
    if (inUse !== undefined) throw validationError([{ path: '--handle', rule: inUse.rule, message: `${handle} is ${inUse.message} [${inUse.rule}]` }], `key of ${owner}`);
  };
  const folders = { data: args.data ?? [data], secureEnvironment, tokenNotShared: args.tokenNotShared === true };
  return destroyFolderKey(folders, { owner, handle, noun: 'key', refuseInUse }, io);
};

/**
 * `credence key destroy --owner OWNER --handle key_… [--data DIR…] [--token-not-shared] [--config FILE]`: the
 * services stopped.
 */
export const register: RegisterCommands = (program, io) => {
  const key = program.command('key').description("keys in the data folder's Secure Environment (locally, the service stopped)");
  const destroyCommand: Command = withKeyFolders(key.command('destroy'))
    .description('destroy a key no record of the folder names, as an error named it ("left in the Secure Environment"); a key in use is refused')
    .requiredOption('--owner <owner>', `the key's owner, as the error named it: ${OWNERS.join(', ')}`)
    .requiredOption('--handle <handle>', 'the key (key_ and 24 characters), as the error named it')
    .option(
      '--config <file>',
      "the service's configuration file (JSON, as credence serve --config): its data folder unless --data, its Secure Environment unless env CREDENCE_SECURE_ENVIRONMENT",
    )
    .action(handler(io, async (opts: Record<string, unknown>) => destroy(parseOptions(destroyCommand, Options, opts), io)));
};

/** The command on its own: `run(['destroy', '--owner', owner, '--handle', handle, '--data', dir], io)`. */
export const run = (argv: string[], io: Io): Promise<number> => runCommands([register], ['key', ...argv], io);
