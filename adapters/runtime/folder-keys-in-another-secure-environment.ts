import { existsSync } from 'node:fs';
import { secureEnvironmentConfigForDataDir } from '../driven/secure-environment/index.ts';
import { keysTheFolderNames, refuseKeysOfAnotherSecureEnvironment, sayNamedKeys } from './keys-the-folder-names.ts';
import { isEmbedded } from './secure-environment-setting.ts';

/**
 * Review 211, the reverse of refuseKeysInTheFoldersEmbeddedSecureEnvironment: a data folder whose records name keys
 * (keysTheFolderNames: its CA files' too) while it has no embedded key database, opened with the embedded Secure
 * Environment. Its keys are in a token (the service runs with a pkcs11: setting), or its Secure Environment files were
 * lost: opening the embedded one would make it empty, and `ca init` put a new CA key there, after which the folder
 * started under neither setting. Refused before anything is opened, made or written. A record that cannot be read
 * may name a key as well: when no other record names one, its own refusal is thrown, naming it.
 */
export const refuseFolderKeysInAnotherSecureEnvironment = (dataDir: string, setting: string | undefined): void => {
  if (!isEmbedded(setting) || existsSync(secureEnvironmentConfigForDataDir(dataDir).database)) return;
  refuseKeysOfAnotherSecureEnvironment(
    keysTheFolderNames(dataDir),
    (named) =>
      `the data folder names ${named.length} key${named.length === 1 ? '' : 's'} (${sayNamedKeys(named)}) but has no embedded Secure Environment (no secure-environment.sqlite): ` +
      'its keys are in the PKCS#11 token its service runs with, and a data folder\'s Secure Environment cannot be switched: give this command ' +
      "the same pkcs11: setting (CREDENCE_SECURE_ENVIRONMENT, or the service's --config file; docs/hsm.md). If the folder never had a " +
      'token, restore the Secure Environment files that belong with these records (secure-environment.sqlite, secure-environment.wrapping-keys, ' +
      'and the KEK: secure-environment.kek, or the file CREDENCE_KEK_FILE names). Nothing was written',
  );
};
