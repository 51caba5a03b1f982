import { existsSync, statSync } from 'node:fs';
import { isKeyNotFound } from '../../domain/errors.ts';
import { ownerView, type KeyHandle } from '../../domain/ports/index.ts';
import type { Io } from '../io.ts';
import { printable } from '../printable.ts';
import { UsageError } from '../program.ts';
import { sayRemovedStrays, unusableDataFolderAsUsage } from './folder-lock.ts';

/** Where the key is: the data folder and the Secure Environment its service runs with (exportSettings). */
export interface KeyFolder {
  readonly data: string;
  /** `embedded`, a pkcs11: URI, or undefined (embedded). */
  readonly secureEnvironment: string | undefined;
}

/** The key a destroy command names. */
export interface FolderKey {
  readonly owner: string;
  readonly handle: KeyHandle;
  /** What the answer calls it: `log key`, `key`. */
  readonly noun: string;
  /**
   * Throws a typed refusal when a record of the folder still names the key. Run under the folder's lock, before the
   * Secure Environment is opened, so nothing is destroyed when it refuses and no service writes a record meanwhile.
   */
  readonly refuseInUse: (data: string) => void | Promise<void>;
}

/**
 * Destroys one key in a data folder's Secure Environment (embedded, or the HSM of `secureEnvironment`), for `credence
 * log-key destroy` and `credence key destroy`. Under the folder's lock, so no service starts meanwhile and makes or
 * uses a key; through the key's owner only, so no key of another owner can be named. A key already gone is said, exit
 * 0: the destroy was asked for once and is done.
 */
export const destroyFolderKey = async ({ data, secureEnvironment }: KeyFolder, key: FolderKey, io: Io): Promise<number> => {
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
    lock = sayRemovedStrays(runtime.lockDataFolder(data, env), data, io, `${key.noun.replace(' ', '-')} destroy`);
  } catch (error) {
    throw unusableDataFolderAsUsage(error);
  }
  try {
    await key.refuseInUse(data);
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
      io.out(
        printable(
          gone
            ? `${key.noun} ${key.handle} is already destroyed (${data})`
            : `destroyed ${key.noun} ${key.handle} (${key.owner}) in the Secure Environment of ${data}`,
        ),
      );
      return 0;
    } finally {
      se.close();
    }
  } finally {
    lock.release();
  }
};
