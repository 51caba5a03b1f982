import { existsSync } from 'node:fs';
import { wipe } from '../../../domain/crypto/bytes.ts';
import type { RandomSource } from '../../../domain/ports/random.ts';
import type { EmbeddedSecureEnvironmentConfig } from './embedded-config.ts';
import { KEK_LENGTH } from './kek.ts';
import { finishKekRotation, nextKekFileOf, removeNextKek, writeNextKek } from './kek-next-file.ts';
import { openVault } from './open-vault.ts';

/**
 * Rotates the KEK of the embedded Secure Environment `config` (a KEK file, a database file), the caller holding the
 * data folder's lock: the three steps of kek-next-file.ts, after finishing or clearing an interrupted rotation. Answers how many stored
 * wrapping keys were re-sealed; never a byte of either KEK.
 */
export const rotateKek = (config: EmbeddedSecureEnvironmentConfig, random: RandomSource): { readonly resealed: number } => {
  if (config.kek.source !== 'file' || config.database === ':memory:') throw new TypeError('config: a KEK rotation needs a KEK file and a database file');
  const kekPath = config.kek.path;
  const { vault } = openVault(config, random);
  try {
    // Opened under the KEK file: a side file still here sealed nothing (an earlier rotation crashed before its commit).
    if (existsSync(nextKekFileOf(kekPath))) removeNextKek(kekPath);
    const next = random(KEK_LENGTH).slice();
    try {
      writeNextKek(kekPath, next);
      let resealed: number;
      try {
        resealed = vault.resealUnder(next);
      } catch (error) {
        // Rolled back (the check value still opens under the KEK file): the side file sealed nothing. Otherwise it
        // is the only KEK that opens the keys, and stays for the next opening to finish with.
        if (vault.checkOpensUnderKek()) removeNextKek(kekPath);
        throw error;
      }
      finishKekRotation(kekPath);
      return { resealed };
    } finally {
      wipe(next);
    }
  } finally {
    vault.close();
  }
};
