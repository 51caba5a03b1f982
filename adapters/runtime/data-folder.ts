import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import type { RandomSource } from '../../domain/ports/index.ts';
import {
  assertNoneForeignOwned,
  assertOwnedByProcessIfPresent,
  foreignOwnedPath,
  foreignOwnedPathsIn,
  lockDataFolder as lockFolder,
  preparePrivateDatabaseFile,
  preparePrivateDir,
  removeAtomicWriteStrays,
  tightenPrivateDatabaseFile,
  tryLockDataFolder as tryLockFolder,
  withPrivateUmask,
  type DataFolderHolder,
  type DataFolderLock,
  type ForeignOwnedPath,
} from '../driven/files/index.ts';
export { describeHolder, SERVICE_LOCK_FILE, type DataFolderLock } from '../driven/files/index.ts';
import { PKI_DIR } from '../driven/pki/index.ts';
import { EmbeddedSecureEnvironment, KEK_MATCHES_DATABASE, Pkcs11SecureEnvironment, secureEnvironmentConfigForDataDir, wrappingKeysPath } from '../driven/secure-environment/index.ts';
import type { OwnerScopedSecureEnvironment } from '../../domain/ports/secure-environment.ts';
import { isCredenceError, validationError } from '../../domain/errors.ts';
import { assertKekFileUsable, assertNoKekLeftInFolder, KEK_FILE_ENVIRONMENT_VARIABLE, kekFileOf, kekFolderOfAnotherAccount, removeKekWriteChecks } from './kek-file.ts';
import { refuseFolderKeysInAnotherSecureEnvironment } from './folder-keys-in-another-secure-environment.ts';
import { refuseKeysInTheFoldersEmbeddedSecureEnvironment } from './folder-keys-in-embedded-secure-environment.ts';
import { isEmbedded } from './secure-environment-setting.ts';

/** The operating system's randomness, through the port (tests pass their own). */
export const systemRandom: RandomSource = (length) => new Uint8Array(randomBytes(length));

/**
 * The embedded Secure Environment of a data folder (`secure-environment.*` files, made on first use), every file it
 * creates private (0600) like every other data file (issue 11 item 13); its KEK in the folder, or in `kekFile` outside
 * it (CREDENCE_KEK_FILE, kek-file.ts). The caller closes it after the instance.
 */
export const openDataFolderSecureEnvironment = (
  dir: string,
  deps: { readonly now: () => Date; readonly random?: RandomSource; readonly kekFile?: string },
): EmbeddedSecureEnvironment => {
  const config = secureEnvironmentConfigForDataDir(dir, deps.kekFile);
  assertDataFolderOwned(dir, deps.kekFile);
  // Every check of the KEK before the folder is made (review 49 item 8: a refused KEK left a new empty folder).
  if (deps.kekFile !== undefined) {
    assertKekFileUsable(deps.kekFile, dir);
    assertNoKekLeftInFolder(dir, deps.kekFile);
  }
  preparePrivateDir(dir);
  // Another account's KEK, key or wrapping-key file is refused before any of them is made (review 47 item 1); the
  // walk above named them all, this is what holds if one changed owner since.
  const kek = config.kek.source === 'file' ? [config.kek.path] : [];
  for (const file of [config.database, wrappingKeysPath(config), ...kek]) {
    assertOwnedByProcessIfPresent(file, file === deps.kekFile ? `env ${KEK_FILE_ENVIRONMENT_VARIABLE}` : 'data', 'Secure Environment');
  }
  preparePrivateDatabaseFile(config.database);
  // As secret as the KEK (a copy revives destroyed keys): made private if a restore left it readable, never created
  // here (a missing one is refused by the key vault, not replaced by an empty file).
  tightenPrivateDatabaseFile(wrappingKeysPath(config));
  return withPrivateUmask(() => {
    try {
      return EmbeddedSecureEnvironment.open(config, { now: deps.now, random: deps.random ?? systemRandom });
    } catch (error) {
      throw underKekFileSetting(error, deps.kekFile);
    }
  });
};

/**
 * A KEK that CREDENCE_KEK_FILE names and that does not open the keys, refused under that setting as its other
 * refusals are (kek-file.ts): the operator set that, not the embedded configuration's field the service filled in.
 */
const underKekFileSetting = (error: unknown, kekFile: string | undefined): unknown => {
  if (kekFile === undefined || !isCredenceError(error) || error.problem.code !== 'validation') return error;
  const { issues } = error.problem;
  if (!issues.some((i) => i.rule === KEK_MATCHES_DATABASE)) return error;
  const path = `env ${KEK_FILE_ENVIRONMENT_VARIABLE}`;
  return validationError(issues.map((i) => (i.rule === KEK_MATCHES_DATABASE ? { ...i, path } : i)), 'Secure Environment configuration');
};

/**
 * Every path another account owns that opening the folder would check, named in one refusal (review 49 item 5): the
 * folder and all it holds, and a KEK kept outside it (labelled with its setting, CREDENCE_KEK_FILE). Nothing when
 * the folder does not exist yet.
 */
const assertDataFolderOwned = (dir: string, kekFile: string | undefined): void =>
  assertNoneForeignOwned([...foreignOwnedPathsIn(dir), ...foreignOwnedKekFile(kekFile)], dir);

/**
 * A KEK kept outside the folder (CREDENCE_KEK_FILE) if another account owns it, and its folder if another account
 * than this one and root owns that (who could swap the KEK: kekFolderOfAnotherAccount), labelled with its setting:
 * what every opening and every lock of the folder names in its refusal, so that none of them goes on beside a planted
 * KEK, or one that may be replaced (a lock refused only later, by the Secure Environment's opening, had swept the
 * folder meanwhile).
 */
const foreignOwnedKekFile = (kekFile: string | undefined): ForeignOwnedPath[] => {
  if (kekFile === undefined) return [];
  const field = `env ${KEK_FILE_ENVIRONMENT_VARIABLE}`;
  const folder = kekFolderOfAnotherAccount(kekFile);
  // Each with its role: the refusal then says what to set where the KEK is mounted, and that root may own its folder.
  return [...(folder === undefined ? [] : [{ path: folder.folder, uid: folder.uid, field, role: 'secret folder' as const }]), ...foreignOwnedPath(kekFile, field, 'secret file')];
};

/** A data folder's lock, and the temp files interrupted writes had left in the folder, removed once it was taken. */
export type SweptDataFolderLock = DataFolderLock & {
  /**
   * Their names, relative to the folder, a KEK's outside it (CREDENCE_KEK_FILE) by its whole path (none of their
   * contents): what the caller says at info.
   */
  readonly removedStrays: readonly string[];
};

/** The KEK CREDENCE_KEK_FILE names in `env`; undefined for a value the Secure Environment's opening will refuse. */
const kekFileIn = (env: Readonly<Record<string, string | undefined>>): string | undefined => {
  try {
    return kekFileOf(env);
  } catch {
    return undefined;
  }
};

/**
 * The temps a kill left beside a KEK kept outside the folder (each a whole KEK, or a second name of it, left forever
 * otherwise): those of that one file name only, since its folder may hold other files that are not ours. Only for a
 * KEK the opening accepts (assertKekFileUsable): its folder is then this account's or root's and writable by no one
 * else, so a temp of its name there was written by one of them; for any other KEK nothing is removed, the opening
 * refuses it. The same age and pid rules as the folder's (atomic-write-strays.ts): another data folder sharing the
 * KEK, or a process that opens this one without its lock, may be writing it now. The check writes nothing (review 380
 * item 2: its probe was a write into a folder of secrets at every read-only command's lock); the write checks of a KEK
 * still to be made that a kill left go with the temps.
 */
const removeKekFileStrays = (kekFile: string, dir: string): string[] => {
  try {
    assertKekFileUsable(kekFile, dir, { probe: false });
  } catch {
    return [];
  }
  return [...removeAtomicWriteStrays(dirname(kekFile), [], basename(kekFile)).map((name) => join(dirname(kekFile), name)), ...removeKekWriteChecks(kekFile)];
};

/**
 * Taken the folder's lock: the strays writeFileAtomic leaves on a kill (a KEK's is a whole KEK, review 59 item 2) go,
 * in the folder and pki/, the folders it writes to, and beside the KEK `kekFile` kept outside it. Only now: with the
 * lock, no other process that writes them runs (atomic-write-strays.ts), so none of these files is a write in flight.
 */
const swept = (lock: DataFolderLock, dir: string, kekFile: string | undefined): SweptDataFolderLock => ({
  release: () => lock.release(),
  discard: () => lock.discard(),
  removedStrays: [...removeAtomicWriteStrays(dir, [PKI_DIR]), ...(kekFile === undefined ? [] : removeKekFileStrays(kekFile, dir))],
});

/**
 * The data folder's service lock (files/data-folder-lock.ts), every path of another account the service would open
 * named first in one refusal, a KEK CREDENCE_KEK_FILE in `env` names included (a value it refuses is left to the
 * Secure Environment's opening to name); the strays of interrupted writes removed (`swept`).
 */
export const lockDataFolder = (dir: string, env: Readonly<Record<string, string | undefined>> = process.env): SweptDataFolderLock => {
  const kekFile = kekFileIn(env);
  // One walk of the folder: the lock's own, the outside KEK named in the same refusal.
  return swept(lockFolder(dir, foreignOwnedKekFile(kekFile)), dir, kekFile);
};

/**
 * `lockDataFolder` for a caller that goes on without the lock (files/data-folder-lock.ts): the same refusal, a KEK
 * CREDENCE_KEK_FILE in `env` names of another account included (it checked the folder alone, so `credence query`
 * and `replay` went on beside a planted KEK), and swept when taken, beside that KEK too.
 */
export const tryLockDataFolder = (
  dir: string,
  alsoForeign: readonly ForeignOwnedPath[] = [],
  env: Readonly<Record<string, string | undefined>> = process.env,
): { readonly lock: SweptDataFolderLock } | { readonly heldBy: DataFolderHolder } => {
  const kekFile = kekFileIn(env);
  const taken = tryLockFolder(dir, [...alsoForeign, ...foreignOwnedKekFile(kekFile)]);
  return 'lock' in taken ? { lock: swept(taken.lock, dir, kekFile) } : taken;
};

/** A Secure Environment a service owns and closes: the embedded one or one over PKCS#11. */
/** `openingWarning`: what the opening found the operator must put right without refusing it (said at warn). */
export type ClosableSecureEnvironment = OwnerScopedSecureEnvironment & { close(): void; readonly openingWarning?: string | undefined };

export { isEmbedded } from './secure-environment-setting.ts';

/**
 * The service's Secure Environment per its `secureEnvironment` setting (issue 16): absent or `embedded`, the data
 * folder's embedded one, its KEK where CREDENCE_KEK_FILE in `env` (default `process.env`) names it, else in the
 * folder; a `pkcs11:` URI, the keys in that token (docs/hsm.md), the PIN from the URI's pin-source or
 * CREDENCE_PKCS11_PIN in `env`. The caller closes it after the instance.
 */
export const openServiceSecureEnvironment = (
  dir: string,
  setting: string | undefined,
  deps: { readonly now: () => Date; readonly random?: RandomSource; readonly env?: Readonly<Record<string, string | undefined>> },
): ClosableSecureEnvironment => {
  const kekFile = kekFileOf(deps.env ?? process.env);
  // Review 211: nor is a folder whose keys are in a token (its CAs' too) given an empty embedded one, for every command.
  refuseFolderKeysInAnotherSecureEnvironment(dir, setting);
  if (isEmbedded(setting)) return openDataFolderSecureEnvironment(dir, { now: deps.now, ...(deps.random ? { random: deps.random } : {}), ...(kekFile !== undefined ? { kekFile } : {}) });
  // A token has no KEK: a KEK file named for it is a mistake worth saying rather than a setting quietly unused.
  if (kekFile !== undefined) {
    throw validationError(
      [{ path: `env ${KEK_FILE_ENVIRONMENT_VARIABLE}`, rule: 'kek_file', message: `is for the embedded Secure Environment; with a pkcs11: Secure Environment the keys are in the token: unset it` }],
      'Secure Environment configuration',
    );
  }
  // Every command that opens a token, not only the start and the token commands (review 209): a folder whose keys
  // are in its embedded Secure Environment cannot be switched to one.
  refuseKeysInTheFoldersEmbeddedSecureEnvironment(dir, setting);
  return Pkcs11SecureEnvironment.open({ uri: setting }, { random: deps.random ?? systemRandom, ...(deps.env ? { env: deps.env } : {}) });
};
