import type { Command } from 'commander';
import { z } from 'zod';
import { validationError } from '../../domain/errors.ts';
import { KeyHandle } from '../../domain/ports/index.ts';
import type { Io } from '../io.ts';
import { handler, parseOptions, runCommands, type RegisterCommands } from '../program.ts';
import { destroyFolderKey } from './destroy-folder-key.ts';
import { destroyKeysSinceBackup } from './key-destroy-since-backup.ts';
import { KeyFolderOptions, keyFoldersOf, withKeyFolders } from './key-folders.ts';
import { listFolderKeys } from './key-list.ts';
import { KEY_OWNERS, keyUseIn } from './keys-in-use.ts';
import { PathArg } from './options.ts';
import { DATA_VARIABLE_SETTING, localDataFolder } from './open-store.ts';

const OWNERS = Object.keys(KEY_OWNERS);

const Owner = z.string().refine((owner) => Object.hasOwn(KEY_OWNERS, owner), { error: `not an owner this command knows: one of ${OWNERS.join(', ')}` });

const ListOptions = z.object({ ...KeyFolderOptions, owner: Owner.optional(), unnamed: z.boolean().optional(), json: z.boolean().optional() });

const Options = z.object({
  ...KeyFolderOptions,
  owner: Owner,
  handle: z.string().transform((value, ctx) => {
    const parsed = KeyHandle.safeParse(value);
    if (parsed.success) return parsed.data;
    ctx.issues.push({ code: 'custom', input: value, message: 'not a key handle (key_ and 24 characters)' });
    return z.NEVER;
  }),
});
type Options = z.infer<typeof Options>;

const SinceBackupOptions = z.object({ data: PathArg.optional(), beforeRestore: PathArg, config: PathArg.optional() });

/**
 * The folders of `--data`; without it or --config (whose loading reads CREDENCE_DATA as `credence serve` does), the
 * folder CREDENCE_DATA names (localDataFolder, review 236: key read ./data while token and serve followed it).
 */
const withDataFolder = <A extends { readonly data?: string[] | undefined; readonly config?: string | undefined }>(args: A, io: Io): A => {
  if (args.data !== undefined || args.config !== undefined) return args;
  const folder = localDataFolder({}, io.env ?? process.env);
  return folder.setting === DATA_VARIABLE_SETTING ? { ...args, data: [folder.dir] } : args;
};

/**
 * Destroys a key of the data folder's Secure Environment that nothing of the folder names: the one an error said is
 * "left in the Secure Environment (owner X), named by nothing" (domain/ports/destroy-new-key.ts), which no other
 * command could ever find again. Only through the owner that error named, and only an owner whose records this command
 * reads (keys-in-use.ts): a key any of them names is refused (`validation`, the rule naming the record), since its
 * folder still signs, verifies or derives with it.
 */
const destroy = async (args: Options, io: Io): Promise<number> => {
  const { owner, handle } = args;
  const refuseInUse = async (folder: string): Promise<void> => {
    const inUse = await keyUseIn([folder], owner, handle);
    if (inUse !== undefined) throw validationError([{ path: '--handle', rule: inUse.rule, message: `${handle} is ${inUse.message} [${inUse.rule}]` }], `key of ${owner}`);
  };
  return destroyFolderKey(await keyFoldersOf(withDataFolder(args, io), io), { owner, handle, noun: 'key', refuseInUse }, io);
};

/**
 * `credence key list [--owner OWNER] [--unnamed] [--json] [--data DIR…] [--token-not-shared] [--config FILE]` and
 * `credence key destroy --owner OWNER --handle key_… [--data DIR…] [--token-not-shared] [--config FILE]` and
 * `credence key destroy-since-backup --before-restore DIR [--data DIR] [--config FILE]`: the services stopped.
 */
export const register: RegisterCommands = (program, io) => {
  const key = program.command('key').description("keys in the data folder's Secure Environment (locally, the service stopped)");
  const listCommand: Command = withKeyFolders(key.command('list'))
    .description("list the keys of the folder's Secure Environment and the record that names each: a key nothing names is one key destroy destroys")
    .option('--owner <owner>', `only this owner's keys: ${OWNERS.join(', ')} (default all)`)
    .option('--unnamed', 'only the keys no record of the folders names')
    .option('--json', 'one JSON document: the keys, the counts, the destroy command')
    .action(handler(io, async (opts: Record<string, unknown>) => {
      const args = parseOptions(listCommand, ListOptions, opts);
      return listFolderKeys(await keyFoldersOf(withDataFolder(args, io), io), { owner: args.owner, unnamed: args.unnamed === true, json: args.json === true, config: args.config }, io);
    }));
  const destroyCommand: Command = withKeyFolders(key.command('destroy'))
    .description('destroy a key no record of the folder names, as an error named it ("left in the Secure Environment"); a key in use is refused')
    .requiredOption('--owner <owner>', `the key's owner, as the error named it: ${OWNERS.join(', ')}`)
    .requiredOption('--handle <handle>', 'the key (key_ and 24 characters), as the error named it')
    .action(handler(io, async (opts: Record<string, unknown>) => destroy(parseOptions(destroyCommand, Options, opts), io)));
  const sinceCommand: Command = key
    .command('destroy-since-backup')
    .description('after a whole-folder restore: destroy again each key the folder moved aside no longer holds (destroyed since the backup)')
    .option('--data <dir>', "the restored data folder (env CREDENCE_DATA; default ./data, or the --config file's)")
    .requiredOption('--before-restore <dir>', 'the data folder moved aside before the restore, as it was last used')
    .option('--config <file>', "the service's configuration file (JSON, as credence serve --config): its data folder unless --data, its Secure Environment")
    .action(
      handler(io, async (opts: Record<string, unknown>) => {
        const args = parseOptions(sinceCommand, SinceBackupOptions, opts);
        const folders = await keyFoldersOf(withDataFolder({ data: args.data === undefined ? undefined : [args.data], config: args.config }, io), io);
        return destroyKeysSinceBackup(folders, args.beforeRestore, io);
      }),
    );
};

/** The command on its own: `run(['list', '--data', dir], io)`, `run(['destroy', '--owner', owner, '--handle', handle, '--data', dir], io)`. */
export const run = (argv: string[], io: Io): Promise<number> => runCommands([register], ['key', ...argv], io);
