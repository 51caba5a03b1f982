import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckpointSigner } from '../../../domain/transparency/checkpoint-signer.ts';
import { isValidKeyName, KEY_NAME_RULE, noteVerifierKey } from '../../../domain/transparency/note.ts';
import { isCredenceError, isKeyNotFound } from '../../../domain/errors.ts';
import { KeyHandle, type OwnedSecureEnvironment } from '../../../domain/ports/secure-environment.ts';
import { howToDestroy } from '../../../domain/ports/destroy-new-key.ts';
import { assertNoNewKeyUnderSignedLog, assertSignsLog } from './log-key-checks.ts';
import { writeFileAtomic } from '../files/index.ts';
import { writePublicKeyFile } from './key-file-signer.ts';

/**
 * The log's checkpoint key held in the Secure Environment (issue 4 item 3, seed 004: keys stay inside it and
 * callers hold handles). Only the handle, which is not secret, is kept in the data folder. The signer is given the
 * Secure Environment as the log key's owner sees it (conventionally LOG_KEY_OWNER), bound by whoever wires it.
 */

/**
 * The log key's own owner, not the infrastructure's (`maf:infrastructure`): the log is the evidence of what the
 * infrastructure did, so the code acting as the infrastructure (security procedures, the shredder, the CAs) can
 * neither sign a checkpoint nor destroy the key. As `credence:access` keeps the token signing key apart.
 */
export const LOG_KEY_OWNER = 'credence:transparency-log';
export const KEY_HANDLE_FILE = 'transparency.handle';

export const secureEnvironmentSigner = async (args: {
  readonly se: OwnedSecureEnvironment;
  readonly handle: KeyHandle;
  readonly keyName: string;
}): Promise<CheckpointSigner> => {
  if (!isValidKeyName(args.keyName)) throw new Error(`keyName: ${KEY_NAME_RULE}`);
  const description = await args.se.describe(args.handle);
  if (description.kind !== 'ed25519' || description.publicKey === undefined) {
    throw new Error(`handle: the log key must be an Ed25519 key, not ${description.kind}`);
  }
  const { se, handle } = args;
  return { keyName: args.keyName, publicKey: description.publicKey, sign: (message) => se.sign(handle, message) };
};

/** The handle a handle file names (`transparency.handle`, or one moved aside with an old log: `credence log-key destroy`). */
export const readHandleFile = (path: string): KeyHandle => {
  const parsed = KeyHandle.safeParse(readFileSync(path, 'utf8').trim());
  if (!parsed.success) {
    // Empty or damaged, e.g. by an interrupted write of an earlier version. Not replaced by a new key: the log's
    // key may have signed checkpoints before the handle was lost (see key-file-signer.ts).
    throw new Error(
      `key handle file ${path} does not hold a key handle (empty or damaged): restore it from a backup; only if this ` +
        "data folder's transparency log has never signed a checkpoint, delete it and a new key is generated",
    );
  }
  return parsed.data;
};

const reason = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * Writes the handle of a key just generated; when another process wrote one first, that key is the log's. Ours is
 * then recorded nowhere, so nothing it signs could ever be verified: it is destroyed, and when that fails too, the
 * error names it (review 53 item 4: it was dropped, a key left in the Secure Environment that nothing named). No key
 * registry is at hand here to keep it owed; the operator who reads the error destroys it.
 */
const recordHandle = async (path: string, se: OwnedSecureEnvironment, handle: KeyHandle): Promise<KeyHandle> => {
  try {
    // Atomic and exclusive: a crash leaves no handle file or a complete one, and never replaces a handle.
    writeFileAtomic(path, `${handle}\n`, { mode: 0o600, exclusive: true });
    return handle;
  } catch (error) {
    const left = await se.destroy(handle).then(
      () => undefined,
      // Already gone is destroyed.
      (failure: unknown) => (isKeyNotFound(failure) ? undefined : failure),
    );
    if (left !== undefined) {
      throw new Error(
        `the log key ${handle} just generated for ${path} was not recorded (${reason(error)}) and could not be destroyed ` +
          `(${reason(left)}): it stays in the Secure Environment as ${se.owner}, named by nothing; ${howToDestroy(se.owner, handle)}`,
        { cause: error },
      );
    }
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readHandleFile(path);
    throw error;
  }
};

/**
 * Uses the handle in `<dataDir>/transparency.handle`, generating a non-extractable Ed25519 key the first time.
 * `signed`: the log's latest checkpoint, when it has one: then the key must be the one that signed it, and none is
 * generated (log-key-checks.ts).
 */
export const openSecureEnvironmentSignerInDir = async (
  dataDir: string,
  se: OwnedSecureEnvironment,
  keyName: string,
  signed?: string,
): Promise<CheckpointSigner> => {
  const path = join(dataDir, KEY_HANDLE_FILE);
  assertNoNewKeyUnderSignedLog(path, signed);
  const recorded = existsSync(path);
  const handle = recorded ? readHandleFile(path) : await recordHandle(path, se, await se.generate('ed25519', { extractable: false }));
  const signer = await secureEnvironmentSigner({ se, handle, keyName }).catch((error: unknown) => {
    if (!recorded || !(isKeyNotFound(error) || isCredenceError(error, 'unauthorised'))) throw error;
    // The folder names a key the Secure Environment does not give this owner: never replaced by a new one (a fork).
    throw new Error(
      `${path} names the log key ${handle}, which this Secure Environment does not hold as ${se.owner} (${(error as Error).message}): ` +
        'open the Secure Environment this data folder was set up with (its token, or its embedded one with its KEK), or restore the key into it',
      { cause: error },
    );
  });
  assertSignsLog(signer, signed, `the key of ${path}`);
  writePublicKeyFile(dataDir, noteVerifierKey(signer.keyName, signer.publicKey));
  return signer;
};
