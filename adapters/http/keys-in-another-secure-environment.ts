import { isEmbedded } from '../runtime/data-folder.ts';
import { refuseFolderKeysInAnotherSecureEnvironment } from '../runtime/folder-keys-in-another-secure-environment.ts';
import { refuseLogKeyInSecureEnvironment } from '../runtime/transparency-key.ts';
import { refuseAKeyNoSecureEnvironmentHolds } from './auth/open-access-control.ts';

/**
 * Refuses, before the data folder is locked or its Secure Environment opened, a folder opened with the embedded Secure
 * Environment whose keys are in another one (an HSM): its transparency log key named by `transparency.handle`, or an
 * access.db naming a signing key, while the folder has no embedded Secure Environment (whose handle it would be). Opening the embedded one would
 * make it (secure-environment.kek, .sqlite, .wrapping-keys) only to be refused a step later (review 49): the refusal
 * leaves the folder as it was. The transparency check is openTransparencyInDir's own, run earlier. The log key and the
 * current signing key are refused first, each with its own advice; then every other key the folder names (review
 * 211: a CA file's, an OCSP signer file's, a retired signing key), as openServiceSecureEnvironment refuses them for
 * every command (`ca init` too).
 */
export const refuseKeysInAnotherSecureEnvironment = (dataDir: string, setting: string | undefined): void => {
  if (!isEmbedded(setting)) return;
  refuseLogKeyInSecureEnvironment(dataDir);
  refuseAKeyNoSecureEnvironmentHolds(dataDir, setting);
  refuseFolderKeysInAnotherSecureEnvironment(dataDir, setting);
};
