import { isKeyNotFound } from '../../../domain/errors.ts';
import type { KeyHandle, OwnedSecureEnvironment } from '../../../domain/ports/index.ts';
import { currentSigningKeyOf } from '../../runtime/current-signing-key.ts';
import { accessSigningKeyGone } from './signing-key-refusals.ts';

/**
 * Review 209: the current API token signing key access.db names, looked up in the PKCS#11 token before a start makes
 * or writes anything (before, a start refused for a key the token does not hold had made a log key in that token and
 * new log files in the folder first). Read only: access.db is read as it is, the token only asked. A folder with no
 * access.db, or one naming no key yet, passes: the start makes its key.
 */
export const refuseCurrentSigningKeyNotInToken = async (dataDir: string, se: OwnedSecureEnvironment): Promise<void> => {
  const current = currentSigningKeyOf(dataDir);
  if (current === undefined) return;
  try {
    await se.describe(current as KeyHandle);
  } catch (error) {
    if (isKeyNotFound(error, current)) throw accessSigningKeyGone(current);
    throw error;
  }
};
