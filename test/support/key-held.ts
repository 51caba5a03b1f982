import { isKeyNotFound } from '../../domain/errors.ts';
import { openDataFolderSecureEnvironment } from '../../adapters/runtime/index.ts';
import { ownerView, type KeyHandle, type OwnedSecureEnvironment } from '../../domain/ports/index.ts';

/** Whether the Secure Environment still holds `handle` for this owner: destroyed is false, any other failure throws. */
export const isHeld = (se: OwnedSecureEnvironment, handle: KeyHandle): Promise<boolean> =>
  se.describe(handle).then(
    () => true,
    (error: unknown) => {
      if (isKeyNotFound(error)) return false;
      throw error;
    },
  );

/** A data folder's embedded Secure Environment as `owner` sees it, closed after `use` (the CLI opens its own). */
export const withDataFolderSe = async <T>(dir: string, owner: string, use: (se: OwnedSecureEnvironment) => Promise<T>): Promise<T> => {
  const se = openDataFolderSecureEnvironment(dir, { now: () => new Date() });
  try {
    return await use(ownerView(se, owner));
  } finally {
    se.close();
  }
};
