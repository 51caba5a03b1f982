import { isKeyNotFound } from '../../domain/errors.ts';
import { ownerView, type KeyHandle } from '../../domain/ports/index.ts';
import type { Io } from '../io.ts';
import { printable } from '../printable.ts';
import { withLockedKeyFolders, type KeyFolders } from './key-folders.ts';

export type { KeyFolders } from './key-folders.ts';

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
export const destroyFolderKey = (folders: KeyFolders, key: FolderKey, io: Io): Promise<number> =>
  withLockedKeyFolders(folders, `${key.noun.replace(' ', '-')} destroy`, io, async (locked) => {
    for (const folder of locked.folders) await key.refuseInUse(folder);
    const gone = await ownerView(locked.secureEnvironment(), key.owner)
      .destroy(key.handle)
      .then(
        () => false,
        (error: unknown) => {
          if (isKeyNotFound(error)) return true;
          throw error;
        },
      );
    const where = `the Secure Environment of ${locked.folders.join(', ')}`;
    io.out(
      printable(
        gone
          ? `no ${key.noun} ${key.handle} of ${key.owner} in ${where}: already destroyed, or never there (check the handle)`
          : `destroyed ${key.noun} ${key.handle} (${key.owner}) in ${where}`,
      ),
    );
    return 0;
  });
