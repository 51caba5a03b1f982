import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { validationError } from '../../../domain/errors.ts';
import { assertJsonWithin } from '../../../domain/json-limits.ts';
import type { RandomSource } from '../../../domain/ports/random.ts';
import { EmbeddedSecureEnvironmentConfig, IN_FOLDER_KEK_FILE, wrappingKeysPath } from './embedded-config.ts';
import { loadKek, type KekSource } from './kek.ts';
import { openVaultAfterRotation } from './kek-next-file.ts';
import { assertKeyFilesOwned } from './key-store.ts';
import { KeyVault } from './key-vault.ts';

/**
 * A KEK file is made only for a key database that holds nothing yet: beside one that holds keys, a missing KEK is
 * lost, and a new one would open none of them (and be kept, the folder then holding a KEK of no use).
 */
const assertKekNotLost = (kek: KekSource, database: string): void => {
  if (kek.source !== 'file' || database === ':memory:') return;
  // The database first: an open writes the KEK file before the database, so a process opening a new folder while
  // another sets it up, finding the database written, then finds the KEK too (the other order could miss both).
  if ((statSync(database, { throwIfNoEntry: false })?.size ?? 0) === 0 || existsSync(kek.path)) return;
  // A data folder's own KEK missing: the folder may have been set up with its KEK outside it (CREDENCE_KEK_FILE) and
  // opened without the setting this time (review 49 item 3); restoring a backup is then the wrong advice.
  const inFolder = kek.path === join(dirname(database), IN_FOLDER_KEK_FILE);
  const outside = inFolder ? `, or, if this folder's KEK is kept outside it, set CREDENCE_KEK_FILE to it` : '';
  throw validationError(
    [{ path: 'kek', rule: 'kek_present', message: `the KEK file ${kek.path} is missing beside the key database ${database}: restore it from a backup${outside} (a new one would open none of its keys)` }],
    'Secure Environment configuration',
  );
};

/**
 * What a KEK other than the one that sealed the keys is told (rule kek_matches_database): which KEK, which key
 * database and the way out, never a byte of the KEK. A new KEK is no way out: it would open none of the keys.
 */
const kekMismatch = (kek: KekSource, database: string): string => {
  const sealed = `does not open the key database ${database}: its keys were sealed under another KEK`;
  if (kek.source !== 'file') return `the KEK given inline (kek.key) ${sealed}; nothing was changed: pass the KEK this key database was set up with (no other opens its keys)`;
  const inFolder = kek.path === join(dirname(database), IN_FOLDER_KEK_FILE);
  const elsewhere = inFolder ? `, or, if this folder's KEK is kept outside it, set CREDENCE_KEK_FILE to it` : ', or name the file that holds it';
  // Review 131: a folder restored from a backup taken before `credence kek rotate` needs the KEK of then, and the file
  // in place may be the only copy of the KEK another folder (the one moved aside) opens under.
  return (
    `the KEK file ${kek.path} ${sealed} (the file replaced or restored from another folder, a setting naming another file, ` +
    `or the folder restored from a backup taken before credence kek rotate, which needs the KEK of then); ` +
    `nothing was changed: put back the KEK this folder was set up with or last rotated to (from its backup, or the one kept with the backup restored)${elsewhere}, and open it again, ` +
    `keeping the KEK file now at ${kek.path} at another path first (it may be the only copy of a KEK another folder opens under); ` +
    `after a restore from before a rotation, run credence kek rotate again before the first start; ` +
    `never delete the key database or make a new KEK in its place: no other KEK opens its keys`
  );
};

/**
 * Parses the configuration of the embedded Secure Environment (beyond the JSON limits, a `validation` error naming
 * the limit: SER-001) and opens its keys at rest. A KEK that does not open this database's check value, or a
 * wrapping-key file missing or of another database, is a `validation` error.
 */
export const openVault = (config: unknown, random: RandomSource): { vault: KeyVault; owners?: readonly string[]; warning?: string } => {
  assertJsonWithin(config, 'Secure Environment configuration');
  const parsed = EmbeddedSecureEnvironmentConfig.safeParse(config);
  if (!parsed.success) {
    throw validationError(
      parsed.error.issues.map((i) => ({ path: i.path.join('.'), rule: i.code, message: i.message })),
      'Secure Environment configuration',
    );
  }
  assertKekNotLost(parsed.data.kek, parsed.data.database);
  // Before the KEK, which may be created: a refusal for another account's key file leaves nothing new behind.
  assertKeyFilesOwned(parsed.data.database, wrappingKeysPath(parsed.data));
  const kek = loadKek(parsed.data.kek, random);
  const mismatch = kekMismatch(parsed.data.kek, parsed.data.database);
  // A KEK file may have a next KEK beside it, left by a rotation interrupted after its commit: that one then opens.
  const opened =
    parsed.data.kek.source === 'file'
      ? openVaultAfterRotation(parsed.data.database, wrappingKeysPath(parsed.data), parsed.data.kek.path, kek, random, mismatch)
      : { vault: KeyVault.open(parsed.data.database, wrappingKeysPath(parsed.data), kek, random, mismatch) };
  return { ...opened, ...(parsed.data.owners ? { owners: parsed.data.owners } : {}) };
};
