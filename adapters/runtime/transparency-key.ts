import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { validationError } from '../../domain/errors.ts';
import { ownerView, type SecureEnvironment } from '../../domain/ports/index.ts';
import type { CheckpointSigner } from '../../domain/transparency/index.ts';
import { keepsKeysInDataFolder } from '../driven/secure-environment/embedded-brand.ts';
import { Pkcs11SecureEnvironment, secureEnvironmentConfigForDataDir } from '../driven/secure-environment/index.ts';
import {
  DEFAULT_LOG_ORIGIN,
  KEY_FILE,
  KEY_HANDLE_FILE,
  LOG_KEY_OWNER,
  openSecureEnvironmentSignerInDir,
  openTransparencyLogInDir,
  refuseLogKeyInSecureEnvironment as refuseLogKeyOfAnySecureEnvironment,
  refuseLogKeyWithoutItsLog,
} from '../driven/transparency/index.ts';
import { preparePrivateDir, withPrivateUmask } from '../driven/files/index.ts';

/**
 * Refuses, before a start with the embedded Secure Environment, a folder whose log key is in another one (an HSM):
 * `transparency.handle` names a key there unless the folder has an embedded Secure Environment (its key database),
 * whose handle it then is. A folder with both (an HSM folder that had an embedded one before) is refused a step
 * later, when that handle is not found in the embedded one: nothing is made either way.
 */
export const refuseLogKeyInSecureEnvironment = (dataDir: string): void => {
  if (existsSync(secureEnvironmentConfigForDataDir(dataDir).database)) return;
  refuseLogKeyOfAnySecureEnvironment(dataDir);
};

/**
 * Where the log key of a folder opened with a Secure Environment is: the signer there (`hsm`, named for the HSM,
 * where it came first; the embedded one's too), or the folder's key file and, when it is weaker than the other keys,
 * why.
 */
export type HsmLogKey =
  | { readonly place: 'hsm'; readonly signer: CheckpointSigner }
  | { readonly place: 'folder'; readonly warning: string | undefined };

/** Said at startup when an HSM deployment still signs with the folder's key (docs/hsm.md, "The transparency log key"). */
export const LOG_KEY_IN_FOLDER_WARNING =
  `the transparency log key is in the data folder (${KEY_FILE}), not in the HSM: anyone who can read the folder can sign ` +
  'checkpoints. It is kept because verifiers pinned it (transparency.pub); to move it into the HSM, follow docs/hsm.md ' +
  '"Moving the log key into the HSM" (a new log, a new key verifiers pin)';

/** Said at startup when the embedded Secure Environment's KEK is out of the folder but the log key is still a file in it. */
export const LOG_KEY_BESIDE_OUTSIDE_KEK_WARNING =
  `the transparency log key is in the data folder (${KEY_FILE}), not in its Secure Environment: the KEK is kept out of the ` +
  'folder (CREDENCE_KEK_FILE), yet anyone who can read the folder or a copy of it can sign checkpoints. It is kept because ' +
  'verifiers pinned it (transparency.pub); to move it into the Secure Environment, follow docs/service.md "The ' +
  'transparency log key" (a new log, a new key verifiers pin)';

/**
 * Why a folder's key file is kept, said at each start: with an HSM, always; with the embedded Secure Environment only
 * when its KEK is out of the folder (no `secure-environment.kek` there, the service refusing both): with the KEK in
 * the folder, a copy of it opens every key of the embedded one anyway, and the key file loses nothing.
 */
const keyFileWarning = (dataDir: string, se: SecureEnvironment): string | undefined => {
  if (!keepsKeysInDataFolder(se)) return LOG_KEY_IN_FOLDER_WARNING;
  const kek = secureEnvironmentConfigForDataDir(dataDir).kek;
  return kek.source === 'file' && existsSync(kek.path) ? undefined : LOG_KEY_BESIDE_OUTSIDE_KEK_WARNING;
};

/**
 * The latest signed checkpoint of the folder's log, read before any key is made (none is under a signed log). A folder
 * without a log gets it here, empty, before its key: a start refused or killed once the key was made then leaves the
 * key with its log, never alone (refuseLogKeyWithoutItsLog refuses a key alone: its log was moved aside without it).
 */
const latestSigned = (dataDir: string): string | undefined => {
  const log = withPrivateUmask(() => openTransparencyLogInDir(dataDir));
  try {
    return log.latestCheckpoint()?.note;
  } finally {
    log.close();
  }
};

/**
 * The transparency log key of a data folder opened with a Secure Environment: an HSM (PKCS#11), or the embedded one
 * as `credence serve` opens it (seed 004: keys stay in the Secure Environment; review 53 item 2: a key file beside a KEK
 * kept outside the folder left the log key in a folder copy). A folder without a key yet gets one generated there, after
 * its log (`transparency.db`, made empty when absent), as LOG_KEY_OWNER, its handle in `transparency.handle` and `transparency.pub` written as for a key file (same note
 * format, same key ID). A folder that has `transparency.key` keeps signing with it: verifiers pinned that key, and
 * another would fork the log (no key can be put into a Secure Environment through the port, so it cannot be moved
 * there as the same key). A folder naming both, or a handle the Secure Environment does not hold, or a key that did
 * not sign the log, or a key without its log (moved aside alone), is refused. The folder is made (0700) when absent, as openCredence would: a library user calls
 * this first (docs/hsm.md, "In a program"). Any Secure Environment through the port will do, a decorated one too:
 * openCredence wants this signer from every Secure Environment but the embedded one, and takes it from that one too.
 */
export const openSecureEnvironmentLogKey = async (
  dataDir: string,
  se: SecureEnvironment,
  origin: string = DEFAULT_LOG_ORIGIN,
): Promise<HsmLogKey> => {
  // Before anything is written, the folder too (review 84: the old key would sign a new log).
  refuseLogKeyWithoutItsLog(dataDir);
  preparePrivateDir(dataDir);
  const keyFile = existsSync(join(dataDir, KEY_FILE));
  const handleFile = existsSync(join(dataDir, KEY_HANDLE_FILE));
  if (keyFile && handleFile) {
    throw new Error(
      `${dataDir} holds both a transparency log key file (${KEY_FILE}) and the handle of a log key in its Secure Environment (${KEY_HANDLE_FILE}): ` +
        `keep the one whose key is in transparency.pub, the one verifiers pinned, and move the other aside`,
    );
  }
  if (keyFile) return { place: 'folder', warning: keyFileWarning(dataDir, se) };
  const signed = latestSigned(dataDir);
  if (signed !== undefined && !handleFile) {
    throw new Error(
      `${dataDir}: the transparency log holds signed checkpoints but neither ${KEY_FILE} nor ${KEY_HANDLE_FILE} is there: restore ` +
        'the one it had from a backup (a new key would fork the log; to start a new log, move transparency.db aside as well)',
    );
  }
  return { place: 'hsm', signer: await openSecureEnvironmentSignerInDir(dataDir, ownerView(se, LOG_KEY_OWNER), origin, signed) };
};

/** The name programs and docs/hsm.md use: the same function, for an HSM or any other Secure Environment. */
export const openHsmLogKey = openSecureEnvironmentLogKey;

/**
 * Refuses to open a data folder with a Secure Environment other than the embedded one but no log key from it: the
 * folder has no `transparency.key` to keep, so opening it would write one there, a log key outside the HSM that
 * whoever reads the folder could sign checkpoints with (docs/hsm.md, "The transparency log key"). Checked before
 * anything is written. Only the embedded one is let through (the log key then a file, unless the signer of
 * openSecureEnvironmentLogKey is passed, as `credence serve` does), and only when it says so (its brand, seen
 * through a Proxy and across copies of the package): a PKCS#11 one wrapped in a decorator, or a copy that `instanceof`
 * does not know, must not fall back to a key file (review 52 item 3). A hand-written decorator of the
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
