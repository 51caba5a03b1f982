import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckpointSigner } from '../../../domain/transparency/checkpoint-signer.ts';
import { formatVerifierKey, isValidKeyName, noteVerifierKey } from '../../../domain/transparency/note.ts';
import { KeyHandle, type SecureEnvironment } from '../../../domain/ports/secure-environment.ts';
import { PUBLIC_KEY_FILE } from './key-file-signer.ts';

/**
 * The log's checkpoint key held in the Secure Environment (issue 4 item 3, seed 004: keys stay inside it and
 * callers hold handles). Only the handle, which is not secret, is kept in the data folder.
 */

export const LOG_KEY_OWNER = 'transparency-log';
export const KEY_HANDLE_FILE = 'transparency.handle';

export const secureEnvironmentSigner = async (args: {
  readonly se: SecureEnvironment;
  readonly handle: KeyHandle;
  readonly keyName: string;
  readonly owner?: string;
}): Promise<CheckpointSigner> => {
  if (!isValidKeyName(args.keyName)) throw new Error('keyName: must be non-empty without spaces or "+"');
  const owner = args.owner ?? LOG_KEY_OWNER;
  const description = await args.se.describe(owner, args.handle);
  if (description.kind !== 'ed25519' || description.publicKey === undefined) {
    throw new Error(`handle: the log key must be an Ed25519 key, not ${description.kind}`);
  }
  const { se, handle } = args;
  return { keyName: args.keyName, publicKey: description.publicKey, sign: (message) => se.sign(owner, handle, message) };
};

/** Uses the handle in `<dataDir>/transparency.handle`, generating a non-extractable Ed25519 key the first time. */
export const openSecureEnvironmentSignerInDir = async (
  dataDir: string,
  se: SecureEnvironment,
  keyName: string,
  owner = LOG_KEY_OWNER,
): Promise<CheckpointSigner> => {
  const path = join(dataDir, KEY_HANDLE_FILE);
  let handle: KeyHandle;
  if (existsSync(path)) {
    const parsed = KeyHandle.safeParse(readFileSync(path, 'utf8').trim());
    if (!parsed.success) throw new Error(`key handle file ${path} does not hold a key handle`);
    handle = parsed.data;
  } else {
    handle = await se.generate(owner, 'ed25519', { extractable: false });
    writeFileSync(path, `${handle}\n`, { flag: 'wx' });
  }
  const signer = await secureEnvironmentSigner({ se, handle, keyName, owner });
  writeFileSync(join(dataDir, PUBLIC_KEY_FILE), `${formatVerifierKey(noteVerifierKey(signer.keyName, signer.publicKey))}\n`);
  return signer;
};
