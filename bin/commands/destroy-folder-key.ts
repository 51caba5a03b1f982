import { existsSync } from 'node:fs';
import { isKeyNotFound } from '../../domain/errors.ts';
import { ownerView, type KeyHandle } from '../../domain/ports/index.ts';
import type { Io } from '../io.ts';
import { printable } from '../printable.ts';
import { UsageError } from '../program.ts';
import { sayRemovedStrays, unusableDataFolderAsUsage } from './folder-lock.ts';
import { keyFolders } from './key-folders.ts';

/** Where the key is: the data folders and the Secure Environment their services run with (exportSettings). */
export interface KeyFolders {
  /** As `--data` named them (at least one): with a token, every folder it serves (keyFolders). */
  readonly data: readonly string[];
  /** `embedded`, a pkcs11: URI, or undefined (embedded). */
  readonly secureEnvironment: string | undefined;
  /** `--token-not-shared`: the operator says the one folder named is the only one the token serves. */
  readonly tokenNotShared: boolean;
}

/** The key a destroy command names. */
export interface FolderKey {
  readonly owner: string;
  readonly handle: KeyHandle;
  /** What the answer calls it: `log key`, `key`. */
  readonly noun: string;
  /**
   * Throws a typed refusal when a record of the folder still names the key. Run for each folder named, under all
   * their locks, before the Secure Environment is opened, so nothing is destroyed when one refuses and no service
   * writes a record meanwhile.
   */
  readonly refuseInUse: (data: string) => void | Promise<void>;
}

/**
 * Destroys one key in a data folder's Secure Environment (embedded, or the HSM of `secureEnvironment`), for `credence
 * log-key destroy` and `credence key destroy`. Under the lock of every folder named (keyFolders: with a token, every
 * folder it serves), so no service starts meanwhile and makes or uses a key; through the key's owner only, so no key
 * of another owner can be named. A key the Secure Environment does not hold is said, exit 0: the destroy was asked
 * for once and is done, or the handle was mistyped, which it cannot tell apart.
 */
export const destroyFolderKey = async ({ data: named, secureEnvironment, tokenNotShared }: KeyFolders, key: FolderKey, io: Io): Promise<number> => {
  const env = io.env ?? process.env;
  const runtime = await import('../../adapters/runtime/data-folder.ts');
  const folders = keyFolders(named, runtime.isEmbedded(secureEnvironment), tokenNotShared);
  const data = folders[0]!;
  const { secureEnvironmentConfigForDataDir } = await import('../../adapters/driven/secure-environment/index.ts');
  // Opening the embedded one would make an empty key database: a folder without one keeps its keys in an HSM.
  if (runtime.isEmbedded(secureEnvironment) && !existsSync(secureEnvironmentConfigForDataDir(data).database)) {
    throw new UsageError(
      `${data} has no embedded Secure Environment: set CREDENCE_SECURE_ENVIRONMENT to the pkcs11: URI the service runs with, or give --config with the service's configuration file`,
    );
  }
  const locks: { release(): void }[] = [];
  try {
    for (const folder of folders) {
      try {
        locks.push(sayRemovedStrays(runtime.lockDataFolder(folder, env), folder, io, `${key.noun.replace(' ', '-')} destroy`));
      } catch (error) {
        throw unusableDataFolderAsUsage(error);
      }
    }
    for (const folder of folders) await key.refuseInUse(folder);
    const se = runtime.openServiceSecureEnvironment(data, secureEnvironment, { now: () => new Date(), env });
    try {
      const gone = await ownerView(se, key.owner)
        .destroy(key.handle)
        .then(
          () => false,
          (error: unknown) => {
            if (isKeyNotFound(error)) return true;
            throw error;
          },
        );
      const where = `the Secure Environment of ${folders.join(', ')}`;
      io.out(
        printable(
          gone
            ? `no ${key.noun} ${key.handle} of ${key.owner} in ${where}: already destroyed, or never there (check the handle)`
            : `destroyed ${key.noun} ${key.handle} (${key.owner}) in ${where}`,
        ),
      );
      return 0;
    } finally {
      se.close();
    }
  } finally {
    for (const lock of locks.reverse()) lock.release();
  }
};
