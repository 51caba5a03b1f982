import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isKeyNotFound } from '../../domain/errors.ts';
import type { KeyHandle, SecureEnvironment } from '../../domain/ports/index.ts';
import { KEY_HANDLE_FILE, LOG_KEY_OWNER, readHandleFile } from '../driven/transparency/secure-environment-signer.ts';

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
