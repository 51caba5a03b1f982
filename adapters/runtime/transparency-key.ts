import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { validationError } from '../../domain/errors.ts';
import { ownerView, type SecureEnvironment } from '../../domain/ports/index.ts';
import type { CheckpointSigner } from '../../domain/transparency/index.ts';
import { keepsKeysInDataFolder } from '../driven/secure-environment/embedded-brand.ts';
import { Pkcs11SecureEnvironment } from '../driven/secure-environment/index.ts';
import {
  DEFAULT_LOG_ORIGIN,
  hasTransparencyLog,
  KEY_FILE,
  KEY_HANDLE_FILE,
  LOG_KEY_OWNER,
  openSecureEnvironmentSignerInDir,
  openTransparencyLogInDir,
  refuseLogKeyInSecureEnvironment,
} from '../driven/transparency/index.ts';
import { preparePrivateDir, withPrivateUmask } from '../driven/files/index.ts';

export { refuseLogKeyInSecureEnvironment };

/** Where the log key of a folder opened with an HSM is: the signer in the HSM, or the folder's key file and why. */
export type HsmLogKey =
  | { readonly place: 'hsm'; readonly signer: CheckpointSigner }
  | { readonly place: 'folder'; readonly warning: string };

/** Said at startup when an HSM deployment still signs with the folder's key (docs/hsm.md, "The transparency log key"). */
export const LOG_KEY_IN_FOLDER_WARNING =
  `the transparency log key is in the data folder (${KEY_FILE}), not in the HSM: anyone who can read the folder can sign ` +
  'checkpoints. It is kept because verifiers pinned it (transparency.pub); to move it into the HSM, follow docs/hsm.md ' +
  '"Moving the log key into the HSM" (a new log, a new key verifiers pin)';

/** The latest signed checkpoint of the folder's log, read before any key is made (none is under a signed log). */
const latestSigned = (dataDir: string): string | undefined => {
  if (!hasTransparencyLog(dataDir)) return undefined;
  const log = withPrivateUmask(() => openTransparencyLogInDir(dataDir));
  try {
    return log.latestCheckpoint()?.note;
  } finally {
    log.close();
  }
};

/**
 * The transparency log key of a data folder whose Secure Environment is an HSM (PKCS#11; seed 004: keys stay in the
 * Secure Environment). A folder without a key yet gets one generated in the token, as LOG_KEY_OWNER, its handle in
 * `transparency.handle` and `transparency.pub` written as for a key file (same note format, same key ID). A folder
 * that has `transparency.key` keeps signing with it: verifiers pinned that key, and another would fork the log. A
 * folder naming both, or a handle the token does not hold, or a key that did not sign the log, is refused. The folder
 * is made (0700) when absent, as openCredence would: a library user calls this first (docs/hsm.md, "In a program").
 * Any Secure Environment through the port will do, a decorated one too: openCredence wants this signer from every
 * Secure Environment but the embedded one.
 */
export const openHsmLogKey = async (
  dataDir: string,
  se: SecureEnvironment,
  origin: string = DEFAULT_LOG_ORIGIN,
): Promise<HsmLogKey> => {
  preparePrivateDir(dataDir);
  const keyFile = existsSync(join(dataDir, KEY_FILE));
  const handleFile = existsSync(join(dataDir, KEY_HANDLE_FILE));
  if (keyFile && handleFile) {
    throw new Error(
      `${dataDir} holds both a transparency log key file (${KEY_FILE}) and the handle of a log key in the HSM (${KEY_HANDLE_FILE}): ` +
        `keep the one whose key is in transparency.pub, the one verifiers pinned, and move the other aside`,
    );
  }
  if (keyFile) return { place: 'folder', warning: LOG_KEY_IN_FOLDER_WARNING };
  const signed = latestSigned(dataDir);
  if (signed !== undefined && !handleFile) {
    throw new Error(
      `${dataDir}: the transparency log holds signed checkpoints but neither ${KEY_FILE} nor ${KEY_HANDLE_FILE} is there: restore ` +
        'the one it had from a backup (a new key would fork the log; to start a new log, move transparency.db aside as well)',
    );
  }
  return { place: 'hsm', signer: await openSecureEnvironmentSignerInDir(dataDir, ownerView(se, LOG_KEY_OWNER), origin, signed) };
};

/**
 * Refuses to open a data folder with a Secure Environment other than the embedded one but no log key from it: the
 * folder has no `transparency.key` to keep, so opening it would write one there, a log key outside the HSM that
 * whoever reads the folder could sign checkpoints with (docs/hsm.md, "The transparency log key"). Checked before
 * anything is written. Only the embedded one is let through, its keys being files anyway, and only when it says so
 * (its brand, seen through a Proxy and across copies of the package): a PKCS#11 one wrapped in a decorator, or a copy
 * that `instanceof` does not know, must not fall back to a key file (review 52 item 3). A hand-written decorator of the
 * embedded one is refused too: the safe side, and it can pass the signer like any other.
 */
export const refuseLogKeyOutsideHsm = (dataDir: string, se: SecureEnvironment, signer: CheckpointSigner | undefined): void => {
  if (keepsKeysInDataFolder(se) || signer !== undefined || existsSync(join(dataDir, KEY_FILE))) return;
  const which = se instanceof Pkcs11SecureEnvironment ? 'a PKCS#11 Secure Environment' : 'not the embedded Secure Environment (a wrapped or other one)';
  throw validationError(
    [
      {
        path: 'transparencySigner',
        rule: 'log_key_in_hsm',
        message:
          `is missing while security.se is ${which} and ${dataDir} has no ${KEY_FILE}: opening would write the transparency log ` +
          `key into the folder, outside the Secure Environment. Pass the signer of openHsmLogKey(dir, se) as transparencySigner (docs/hsm.md)`,
      },
    ],
    'openCredence options',
  );
};
