import { existsSync } from 'node:fs';
import { readOnlyDatabaseWritingNothing } from '../driven/files/read-only-database.ts';
import { secureEnvironmentConfigForDataDir } from '../driven/secure-environment/index.ts';
import { keysTheFolderNames, refuseKeysOfAnotherSecureEnvironment, sayNamedKeys } from './keys-the-folder-names.ts';
import { isEmbedded } from './secure-environment-setting.ts';

/** Every handle the embedded key database stores (read only, nothing written, not even a rollback). */
const storedHandles = (database: string): ReadonlySet<string> =>
  readOnlyDatabaseWritingNothing(database, (db) => {
    // An empty file (a first open stopped before its schema) stores no key.
    if (db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'se_keys'`).get() === undefined) return new Set<string>();
    return new Set((db.prepare('SELECT handle FROM se_keys').all() as { handle: string }[]).map((r) => r.handle));
  });

/**
 * Review 209: a data folder whose keys are in its embedded Secure Environment, opened with a PKCS#11 one. The token
 * holds none of them (handles are random), so the start and `token create` said the current signing key was gone from
 * the token and advised `token rotate-key --withdraw-missing`, which revoked every token and left the key where it was.
 * A folder's Secure Environment is not switched: refused before anything is opened, made or written, whenever
 * secure-environment.sqlite holds a key the folder names (keysTheFolderNames: access.db's signing keys, the log key,
 * the CA files' keys, the OCSP signer files' current and retired keys, keys.db's keys; review 211 added the CAs').
 * A record that cannot be read (a file a newer version wrote, a malformed one) may name a key it holds: when no other
 * record names one, that record's own refusal is thrown, naming it (which keys it names is unknown, so the switch
 * cannot be ruled out); when the key database holds no key at all, it names none of them, and nothing is refused.
 */
export const refuseKeysInTheFoldersEmbeddedSecureEnvironment = (dataDir: string, setting: string | undefined): void => {
  if (isEmbedded(setting)) return;
  const { database } = secureEnvironmentConfigForDataDir(dataDir);
  if (!existsSync(database)) return;
  const stored = storedHandles(database);
  if (stored.size === 0) return;
  refuseKeysOfAnotherSecureEnvironment(
    keysTheFolderNames(dataDir, stored),
    (held) =>
      `the data folder's keys are in its embedded Secure Environment (secure-environment.sqlite holds ${held.length} of the keys the folder names: ` +
      `${sayNamedKeys(held)}), not in the PKCS#11 token this command was given, and a data folder's Secure Environment cannot be switched: ` +
      'run without the pkcs11: setting (unset CREDENCE_SECURE_ENVIRONMENT, or remove secureEnvironment from the --config file). ' +
      'To keep keys in an HSM, start a new data folder with the setting (docs/hsm.md). Nothing was written',
  );
};
