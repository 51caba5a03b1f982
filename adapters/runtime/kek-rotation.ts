import { closeSync, existsSync, lstatSync, openSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { RandomSource } from '../../domain/ports/index.ts';
import { validationError } from '../../domain/errors.ts';
import { assertOwnedByProcessIfPresent, DEVICE_LOCK_DB_FILE, withPrivateUmask } from '../driven/files/index.ts';
import { secureEnvironmentConfigForDataDir, wrappingKeysPath } from '../driven/secure-environment/index.ts';
import { rotateKek } from '../driven/secure-environment/kek-rotation.ts';
import { systemRandom } from './data-folder.ts';
import { assertKekFileUsable, assertNoKekLeftInFolder, KEK_FILE_ENVIRONMENT_VARIABLE, kekFileOf, unwritableBecause } from './kek-file.ts';

/** What `credence kek rotate` did: how many wrapping keys were re-sealed, and the KEK file now holding the new KEK. */
export interface KekRotated {
  readonly resealed: number;
  readonly kekFile: string;
}

/**
 * Rotates the KEK of the data folder `dir`'s embedded Secure Environment (kek-rotation.ts), its KEK where
 * CREDENCE_KEK_FILE in `env` names it, else in the folder, checked as its opening checks it. The caller holds the
 * folder's lock. A folder without a key database is refused (`secure_environment_present`): a new one would be made
 * only to rotate a KEK that seals nothing.
 */
export const rotateDataFolderKek = (
  dir: string,
  deps: { readonly env: Readonly<Record<string, string | undefined>>; readonly random?: RandomSource },
): KekRotated => {
  const kekFile = kekFileOf(deps.env);
  const config = refuseUnrotatable(dir, deps.env);
  if (kekFile !== undefined) {
    assertKekFileUsable(kekFile, dir);
    assertNoKekLeftInFolder(dir, kekFile);
  }
  const kekPath = config.kek.source === 'file' ? config.kek.path : '';
  for (const file of [config.database, wrappingKeysPath(config), kekPath]) {
    assertOwnedByProcessIfPresent(file, file === kekFile ? `env ${KEK_FILE_ENVIRONMENT_VARIABLE}` : 'data', 'Secure Environment');
  }
  const { resealed } = withPrivateUmask(() => rotateKek(config, deps.random ?? systemRandom));
  return { resealed, kekFile: kekPath };
};

/**
 * What refuses a rotation before anything is made (the caller checks it before taking the folder's lock, whose file is
 * then not made): no key database; a device folder, whose commands hold device-lock.db, not this lock, and one running
 * would go on sealing new keys under the KEK it read, which no file would hold any more (review 128); a KEK file that is
 * a symbolic link, which the rename would replace, leaving the old KEK's bytes in its target (review 128).
 */
export const refuseUnrotatable = (dir: string, env: Readonly<Record<string, string | undefined>>) => {
  const config = secureEnvironmentConfigForDataDir(dir, kekFileOf(env));
  if (!existsSync(config.database)) throw noSecureEnvironment(dir);
  if (existsSync(join(dir, DEVICE_LOCK_DB_FILE)) || existsSync(join(dir, 'device.json'))) throw aDeviceFolder(dir);
  if (config.kek.source === 'file' && lstatSync(config.kek.path, { throwIfNoEntry: false })?.isSymbolicLink() === true) throw aLinkedKek(config.kek.path);
  if (config.kek.source === 'file') refuseUnwritableKek(config.kek.path);
  return config;
};

/** The refusal of a folder that holds no embedded Secure Environment (no key database), naming the folder. */
export const noSecureEnvironment = (dir: string) =>
  validationError(
    [{ path: 'data', rule: 'secure_environment_present', message: `${dir} holds no embedded Secure Environment (no secure-environment.sqlite): there is no KEK to rotate; is it the data folder?` }],
    'KEK rotation',
  );

const aDeviceFolder = (dir: string) =>
  validationError(
    [{ path: 'data', rule: 'data_folder', message: `${dir} is a device folder (device.json, device-lock.db): its KEK is the device's, rotated by none of the service's commands; run this on the service's data folder` }],
    'KEK rotation',
  );

const aLinkedKek = (kekPath: string) => {
  let target: string;
  try {
    target = realpathSync(kekPath);
  } catch {
    target = 'the file it points to';
  }
  return validationError(
    [{ path: 'kek', rule: 'kek_not_a_link', message: `the KEK file ${kekPath} is a symbolic link: a rotation would replace the link and leave the old KEK in ${target}; set ${KEK_FILE_ENVIRONMENT_VARIABLE} to ${target} itself (and point the service there too), then rotate` }],
    'KEK rotation',
  );
};

/**
 * The KEK file must take the new KEK (renamed over, or written in place): one mounted read-only, as a secret may be,
 * would leave every key sealed under a KEK only `<kek>.next` holds (review 129). Opened for writing and closed,
 * nothing written.
 */
const refuseUnwritableKek = (kekPath: string): void => {
  let fd: number;
  try {
    fd = openSync(kekPath, 'r+');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    throw validationError(
      [{ path: 'kek', rule: 'kek_writable', message: `the KEK file ${kekPath} cannot be written (${code ?? 'failed'}): the new KEK must replace it; make it writable for the rotation (a secret mounted read-only: mount it read-write), then rotate` }],
      'KEK rotation',
    );
  }
  closeSync(fd);
  // The new KEK is written beside it (<kek>.next) before it takes its place: a full disk or a used-up quota there is
  // refused by name before anything is written (review 383: a raw ENOSPC of that write, no file named).
  const because = unwritableBecause(dirname(kekPath));
  if (because !== undefined) {
    throw validationError(
      [{ path: 'kek', rule: 'kek_writable', message: `the folder of the KEK file ${kekPath} ${because}: the new KEK is written beside it before it takes its place; make room there, then rotate` }],
      'KEK rotation',
    );
  }
};
