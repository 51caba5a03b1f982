import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { validationError } from '../../domain/errors.ts';
import { signingKeyHandles } from '../driven/access/signing-key-handles.ts';
import { readOnlyDatabaseWritingNothing } from '../driven/files/read-only-database.ts';
import { boundHandles } from '../driven/key-registry/bound-handles.ts';
import { secureEnvironmentConfigForDataDir } from '../driven/secure-environment/index.ts';
import { KEY_HANDLE_FILE, readHandleFile } from '../driven/transparency/secure-environment-signer.ts';
import { isEmbedded } from './secure-environment-setting.ts';

/** How many of the folder's keys the refusal names by handle; the rest are counted. */
const NAMED_KEYS = 4;

/** Every handle the embedded key database stores (read only, nothing written, not even a rollback). */
const storedHandles = (database: string): ReadonlySet<string> =>
  readOnlyDatabaseWritingNothing(database, (db) => {
    // An empty file (a first open stopped before its schema) stores no key.
    if (db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'se_keys'`).get() === undefined) return new Set<string>();
    return new Set((db.prepare('SELECT handle FROM se_keys').all() as { handle: string }[]).map((r) => r.handle));
  });

/** A key the data folder names, by the record that names it. */
interface NamedKey {
  readonly record: string;
  readonly handle: string;
}

/** The keys the folder's records name that `stored` holds: access.db's signing keys, the log key, keys.db's bindings. */
const namedKeysAmong = (dataDir: string, stored: ReadonlySet<string>): NamedKey[] => {
  const named: NamedKey[] = signingKeyHandles(dataDir).map((k) => ({
    record: k.retiredAt === undefined ? 'the API token signing key access.db records as current' : 'a retired API token signing key access.db names',
    handle: k.handle,
  }));
  const handleFile = join(dataDir, KEY_HANDLE_FILE);
  if (existsSync(handleFile)) named.push({ record: `the log key ${KEY_HANDLE_FILE} names`, handle: readHandleFile(handleFile) });
  const held = named.filter((k) => stored.has(k.handle));
  for (const [handle, binding] of boundHandles(dataDir, stored)) held.push({ record: `a key keys.db binds (${binding.purpose})`, handle });
  return held;
};

/**
 * Review 209: a data folder whose keys are in its embedded Secure Environment, opened with a PKCS#11 one. The token
 * holds none of them (handles are random), so the start and `token create` said the current signing key was gone from
 * the token and advised `token rotate-key --withdraw-missing`, which revoked every token and left the key where it was.
 * A folder's Secure Environment is not switched: refused before anything is opened, made or written, whenever
 * secure-environment.sqlite holds a key the folder names (access.db's signing keys, the log key, keys.db's keys).
 */
export const refuseKeysInTheFoldersEmbeddedSecureEnvironment = (dataDir: string, setting: string | undefined): void => {
  if (isEmbedded(setting)) return;
  const { database } = secureEnvironmentConfigForDataDir(dataDir);
  if (!existsSync(database)) return;
  const held = namedKeysAmong(dataDir, storedHandles(database));
  if (held.length === 0) return;
  const named = held.slice(0, NAMED_KEYS).map((k) => `${k.record}, ${k.handle}`);
  const more = held.length > NAMED_KEYS ? `; and ${held.length - NAMED_KEYS} more` : '';
  throw validationError(
    [
      {
        path: 'secureEnvironment',
        rule: 'secure_environment_of_the_folder',
        message:
          `the data folder's keys are in its embedded Secure Environment (secure-environment.sqlite holds ${held.length} of the keys the folder names: ` +
          `${named.join('; ')}${more}), not in the PKCS#11 token this command was given, and a data folder's Secure Environment cannot be switched: ` +
          'run without the pkcs11: setting (unset CREDENCE_SECURE_ENVIRONMENT, or remove secureEnvironment from the --config file). ' +
          'To keep keys in an HSM, start a new data folder with the setting (docs/hsm.md). Nothing was written',
      },
    ],
    'Secure Environment configuration',
  );
};
