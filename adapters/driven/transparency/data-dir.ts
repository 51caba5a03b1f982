import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { CheckpointSigner } from '../../../domain/transparency/checkpoint-signer.ts';
import { validationError } from '../../../domain/errors.ts';
import { remedyFor } from '../files/damaged-database.ts';
import { EMBEDDED_SE_DATABASE_FILE, EMBEDDED_SE_WRAPPING_KEYS_FILE, IN_FOLDER_KEK_FILE } from '../files/embedded-secure-environment-files.ts';
import { KEY_FILE, openKeyFileSignerInDir, PUBLIC_KEY_FILE } from './key-file-signer.ts';
import { KEY_HANDLE_FILE } from './secure-environment-signer.ts';
import { assertSignsLog } from './log-key-checks.ts';
import { openTransparencyLogInDir, TRANSPARENCY_DB_FILE, type SqliteTransparencyLog } from './sqlite-log.ts';

/** Default checkpoint origin (and key name): a schema-less URL, as tlog-checkpoint recommends. */
export const DEFAULT_LOG_ORIGIN = 'credence.local/log';

/**
 * The files of the folder's embedded Secure Environment that are there while its key database is not: its KEK (in the
 * folder) or its wrapping-key file say the key `transparency.handle` names was made in it, and only that database was
 * lost (review 286 L2: refused with advice for an HSM, the missing file never named). Empty when the database is there,
 * or none of them is (an HSM folder).
 */
const embeddedSecureEnvironmentWithoutItsDatabase = (dataDir: string): { database: string; present: string[] } => {
  const database = join(dataDir, EMBEDDED_SE_DATABASE_FILE);
  if (existsSync(database)) return { database, present: [] };
  return { database, present: [IN_FOLDER_KEK_FILE, EMBEDDED_SE_WRAPPING_KEYS_FILE].filter((file) => existsSync(join(dataDir, file))) };
};

/**
 * Refuses a folder whose log key is in a Secure Environment (an HSM, or the embedded one `credence serve` made it in:
 * `transparency.handle` names it) when it is opened without its signer: a key file made there would be a second log
 * identity. Checked here for every caller that passes no signer; the service, with the embedded Secure Environment,
 * checks before anything is opened that the folder has one to hold that key (adapters/runtime/transparency-key.ts,
 * review 49). A folder whose embedded Secure Environment lost only its key database is refused naming that file.
 */
export const refuseLogKeyInSecureEnvironment = (dataDir: string): void => {
  if (!existsSync(join(dataDir, KEY_HANDLE_FILE))) return;
  const embedded = embeddedSecureEnvironmentWithoutItsDatabase(dataDir);
  if (embedded.present.length > 0) {
    throw validationError(
      [
        {
          path: 'data',
          rule: 'secure_environment_database_missing',
          message:
            `the transparency log key of ${dataDir} is in its embedded Secure Environment (${KEY_HANDLE_FILE} names it; ${embedded.present.join(' and ')} ` +
            `${embedded.present.length === 1 ? 'is' : 'are'} there), but its key database ${embedded.database} is missing: ` +
            remedyFor(basename(embedded.database)),
        },
      ],
      'data folder',
    );
  }
  throw validationError(
    [
      {
        path: 'secureEnvironment',
        rule: 'log_key_in_secure_environment',
        message:
          `the transparency log key of ${dataDir} is in its Secure Environment (${KEY_HANDLE_FILE} names it), not in a key file: ` +
          "open the folder with that Secure Environment (the service's --secure-environment, CREDENCE_SECURE_ENVIRONMENT; docs/hsm.md), " +
          'or in a program pass the signer of openHsmLogKey(dir, se) as transparencySigner',
      },
    ],
    'data folder',
  );
};

/**
 * Refuses a folder whose log key (`transparency.key`, or `transparency.handle` naming it in a Secure Environment) is
 * there without its log, `transparency.db`: that key has signed checkpoints auditors keep, and a new log under it would
 * sign other trees at the same sizes, which they cannot tell from tampering (review 84). A key is only ever made with
 * its log (after it, in the same opening), so only a log moved aside without it leaves one alone. Checked before
 * anything is written.
 */
export const refuseLogKeyWithoutItsLog = (dataDir: string): void => {
  if (existsSync(join(dataDir, TRANSPARENCY_DB_FILE))) return;
  const keys = [KEY_FILE, KEY_HANDLE_FILE].filter((name) => existsSync(join(dataDir, name)));
  if (keys.length === 0) return;
  throw validationError(
    [
      {
        path: 'data',
        rule: 'log_key_without_its_log',
        message:
          `${dataDir} holds the transparency log key (${keys.join(', ')}) but not its log (${TRANSPARENCY_DB_FILE}): a new log under ` +
          'that key would sign other trees at the sizes the old one signed, which auditors cannot tell from tampering. Put ' +
          `${TRANSPARENCY_DB_FILE} back (with its -wal and -shm) from where it was moved; or, to start a new log under a new key, ` +
          `move ${keys.join(' and ')} and ${PUBLIC_KEY_FILE} aside with it, the service stopped (README, "Restoring the event store from a backup", step 4)`,
      },
    ],
    'data folder',
  );
};

/**
 * The transparency log of a data folder: `<dataDir>/transparency.db`, kept apart from `events.db` so that one
 * file cannot be edited to agree with the other, and its key file `<dataDir>/transparency.key` (0600), used when no
 * Secure Environment signer is passed (a program without a Secure Environment, or one not passing it).
 */
export const openTransparencyInDir = (
  dataDir: string,
  options: { readonly origin?: string; readonly signer?: CheckpointSigner } = {},
): { log: SqliteTransparencyLog; signer: CheckpointSigner; origin: string } => {
  const origin = options.origin ?? DEFAULT_LOG_ORIGIN;
  refuseLogKeyWithoutItsLog(dataDir);
  const log = openTransparencyLogInDir(dataDir);
  try {
    const signed = log.latestCheckpoint()?.note;
    if (options.signer === undefined) refuseLogKeyInSecureEnvironment(dataDir);
    const signer = options.signer ?? openKeyFileSignerInDir(dataDir, origin, signed);
    // A signer given (a Secure Environment's) is held to the same: the log's own key, or no start.
    if (options.signer !== undefined) assertSignsLog(options.signer, signed, 'the transparency signer given');
    return { log, signer, origin };
  } catch (error) {
    log.close();
    throw error;
  }
};

export const hasTransparencyLog = (dataDir: string): boolean => existsSync(join(dataDir, TRANSPARENCY_DB_FILE));
