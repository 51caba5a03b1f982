import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isCredenceError, isKeyNotFound } from '../../domain/errors.ts';
import type { KeyHandle, SecureEnvironment } from '../../domain/ports/index.ts';
import { KEY_HANDLE_FILE, LOG_KEY_OWNER, readHandleFile } from '../driven/transparency/secure-environment-signer.ts';
import { keysTheFolderNames, refuseKeysOfAnotherSecureEnvironment, sayNamedKeys } from './keys-the-folder-names.ts';
import { isEmbedded } from './secure-environment-setting.ts';

/** A key a record of the data folder names, and whether the Secure Environment at hand holds it. */
export interface FolderKeyHeld {
  /** The record that names it, as a noun phrase (`the log key transparency.handle names`). */
  readonly record: string;
  readonly handle: string;
  readonly held: boolean;
}

/**
 * Whether `se` holds `owner`'s key `handle`: false only on its own answer that it holds no such key, as a key
 * destroyed or never made there is answered; any other failure (a session lost, an owner it does not serve) throws,
 * so a key is never taken for absent when that is unknown.
 */
const holds = async (se: SecureEnvironment, owner: string, handle: KeyHandle): Promise<boolean> => {
  try {
    await se.describe(owner, handle);
    return true;
  } catch (error) {
    if (isKeyNotFound(error, handle)) return false;
    throw error;
  }
};

/**
 * The log key the folder's `transparency.handle` names, with whether `se` holds it; none without that file (a log key
 * file, or no log yet). Review 137: what, with access.db's retired keys, shows a PKCS#11 token to be another than the
 * folder's: the log key is never destroyed while its handle file names it (`credence log-key destroy` refuses it), so a
 * token holding none of these holds none of the folder's keys. A damaged handle file throws (readHandleFile).
 */
export const logKeyHeld = async (se: SecureEnvironment, dataDir: string): Promise<readonly FolderKeyHeld[]> => {
  const path = join(dataDir, KEY_HANDLE_FILE);
  if (!existsSync(path)) return [];
  const handle = readHandleFile(path);
  return [{ record: `the log key ${KEY_HANDLE_FILE} names`, handle, held: await holds(se, LOG_KEY_OWNER, handle) }];
};

/**
 * Whether the token holds the handle under any owner: `unauthorised` is the port's answer for a handle it holds for
 * another owner (domain/ports/secure-environment.ts), and a handle is random, so that too is a key of this folder's.
 */
const holdsForAnyOwner = async (se: SecureEnvironment, owner: string, handle: KeyHandle): Promise<boolean> => {
  try {
    return await holds(se, owner, handle);
  } catch (error) {
    if (isCredenceError(error, 'unauthorised')) return true;
    throw error;
  }
};

/**
 * Review 230: a data folder whose records name keys (keysTheFolderNames: access.db's, the log key, the CA and OCSP
 * signer files', keys.db's), given a PKCS#11 token that holds none of them: another token than the one its service
 * runs with (handles are random, so a token holding one is the folder's). `ca init` made its CA key there and wrote
 * the CA file, which the folder's own token then refused at `serve`; `key list` and `key destroy` read that token as
 * the folder's and said its keys were gone. Refused by rule `secure_environment_of_the_folder` (exit 1, as every
 * command answers it) before any local command makes, destroys or lists a key in the token, and before anything is
 * written. The keys are asked one at a time until one is held: the folder's token answers at the first, usually.
 * A folder naming no key (a new one) takes any token; a record that cannot be read, when no other names a key, is
 * refused by its own reader (refuseKeysOfAnotherSecureEnvironment). The embedded Secure Environment is the folder's
 * by where it is: nothing asked.
 */
export const refuseTokenHoldingNoneOfTheFolderKeys = async (se: SecureEnvironment, dataDir: string, setting: string | undefined): Promise<void> => {
  if (isEmbedded(setting)) return;
  const found = keysTheFolderNames(dataDir);
  for (const key of found.named) if (await holdsForAnyOwner(se, key.owner, key.handle as KeyHandle)) return;
  refuseKeysOfAnotherSecureEnvironment(
    found,
    (named) =>
      `the data folder names ${named.length} key${named.length === 1 ? '' : 's'} (${sayNamedKeys(named)}) and the PKCS#11 token this command was ` +
      "given holds none of them: it is not the token the folder's service runs with. Give this command the same pkcs11: setting as the " +
      "service (CREDENCE_SECURE_ENVIRONMENT, or the service's --config file; docs/hsm.md). The folder's own token holds none of them " +
      'only when each was destroyed there since the backup the folder was restored from (an access.db whose only key is gone: ' +
      'credence token rotate-key --withdraw-missing). Nothing was made, destroyed or written',
  );
};
