import type { Command } from 'commander';
import { z } from 'zod';
import { validationError } from '../../domain/errors.ts';
import type { Io } from '../io.ts';
import { printable } from '../printable.ts';
import { handler, parseOptions, runCommands, type RegisterCommands } from '../program.ts';
import { exportSettings } from './export-log-key.ts';
import { sayRemovedStrays, unusableDataFolderAsUsage } from './folder-lock.ts';
import { PathArg } from './options.ts';

const Options = z.object({ data: PathArg.optional(), config: PathArg.optional() });
type Options = z.infer<typeof Options>;

/**
 * A new KEK for the data folder's embedded Secure Environment (review 127): every wrapping key and the KEK check value
 * re-sealed under it in one transaction, then the KEK file replaced, so a leaked copy of the old KEK opens nothing the
 * folder holds from then on (docs/service.md, "If the KEK leaked"). Under the folder's lock: refused while a service
 * or another command holds it. A pkcs11: Secure Environment has no KEK and is refused, its URI unsaid (it may hold a
 * PIN). Says how many keys were re-sealed, never a byte of either KEK.
 */
const rotate = async (args: Options, io: Io): Promise<number> => {
  const env = io.env ?? process.env;
  const { data, secureEnvironment } = await exportSettings({ config: args.config, data: args.data }, io);
  const runtime = await import('../../adapters/runtime/data-folder.ts');
  if (!runtime.isEmbedded(secureEnvironment)) {
    throw validationError(
      [{ path: 'secureEnvironment', rule: 'embedded', message: 'is a pkcs11: Secure Environment: its keys are in the token, sealed under no KEK of Credence, so there is no KEK to rotate (see docs/hsm.md for the token\'s own keys)' }],
      'KEK rotation',
    );
  }
  const { refuseUnrotatable, rotateDataFolderKek } = await import('../../adapters/runtime/kek-rotation.ts');
  // Before the lock, which makes service-lock.db: a folder refused is left as it was.
  refuseUnrotatable(data, env);
  let lock;
  try {
    lock = sayRemovedStrays(runtime.lockDataFolder(data, env), data, io, 'kek rotate');
  } catch (error) {
    throw unusableDataFolderAsUsage(error);
  }
  let rotated;
  try {
    rotated = rotateDataFolderKek(data, { env });
  } catch (error) {
    // Refused under the lock (a KEK file that does not open the keys, or is not where the setting says: review 174):
    // the lock's database goes again if this run made it, so the folder is left as it was.
    lock.discard();
    throw error;
  }
  lock.release();
  const { resealed, kekFile } = rotated;
  io.out(printable(`re-sealed ${resealed} wrapping key${resealed === 1 ? '' : 's'} and the KEK check value of the Secure Environment of ${data} under a new KEK, now in ${kekFile}`));
  io.out('the old KEK opens nothing in this folder any more; copies of the folder made before still open under it: replace the keys they hold (docs/service.md, "If the KEK leaked")');
  return 0;
};

/** `credence kek rotate [--data DIR] [--config FILE]`: the service stopped. */
export const register: RegisterCommands = (program, io) => {
  const kek = program.command('kek').description("the key-encryption key of the data folder's embedded Secure Environment (locally, the service stopped)");
  const rotateCommand: Command = kek
    .command('rotate')
    .description('re-seal every key under a new KEK and replace the KEK file: a leaked copy of the old KEK opens nothing in the folder any more')
    .option('--data <dir>', "the data folder (env CREDENCE_DATA; default ./data, or the --config file's)")
    .option('--config <file>', "the service's configuration file (JSON, as credence serve --config): its data folder unless --data, its Secure Environment")
    .action(handler(io, async (opts: Record<string, unknown>) => rotate(parseOptions(rotateCommand, Options, opts), io)));
};

/** The command on its own: `run(['rotate', '--data', dir], io)`. */
export const run = (argv: string[], io: Io): Promise<number> => runCommands([register], ['kek', ...argv], io);
