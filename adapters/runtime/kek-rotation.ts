import { existsSync } from 'node:fs';
import type { RandomSource } from '../../domain/ports/index.ts';
import { validationError } from '../../domain/errors.ts';
import { assertOwnedByProcessIfPresent, withPrivateUmask } from '../driven/files/index.ts';
import { secureEnvironmentConfigForDataDir, wrappingKeysPath } from '../driven/secure-environment/index.ts';
import { rotateKek } from '../driven/secure-environment/kek-rotation.ts';
import { systemRandom } from './data-folder.ts';
import { assertKekFileUsable, assertNoKekLeftInFolder, KEK_FILE_ENVIRONMENT_VARIABLE, kekFileOf } from './kek-file.ts';

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
  const config = secureEnvironmentConfigForDataDir(dir, kekFile);
  if (!existsSync(config.database)) throw noSecureEnvironment(dir);
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

/** The refusal of a folder that holds no embedded Secure Environment (no key database), naming the folder. */
export const noSecureEnvironment = (dir: string) =>
  validationError(
    [{ path: 'data', rule: 'secure_environment_present', message: `${dir} holds no embedded Secure Environment (no secure-environment.sqlite): there is no KEK to rotate; is it the data folder?` }],
    'KEK rotation',
  );
