import { randomBytes } from 'node:crypto';
import type { RandomSource } from '../../domain/ports/index.ts';
import { preparePrivateDatabaseFile, preparePrivateDir, withPrivateUmask } from '../driven/files/index.ts';
export { lockDataFolder, SERVICE_LOCK_FILE, type DataFolderLock } from '../driven/files/index.ts';
import { EmbeddedSecureEnvironment, secureEnvironmentConfigForDataDir } from '../driven/secure-environment/index.ts';

/** The operating system's randomness, through the port (tests pass their own). */
export const systemRandom: RandomSource = (length) => new Uint8Array(randomBytes(length));

/**
 * The embedded Secure Environment of a data folder (`secure-environment.*` files, made on first use), every file it
 * creates private (0600) like every other data file (issue 11 item 13). The caller closes it after the instance.
 */
export const openDataFolderSecureEnvironment = (
  dir: string,
  deps: { readonly now: () => Date; readonly random?: RandomSource },
): EmbeddedSecureEnvironment => {
  const config = secureEnvironmentConfigForDataDir(dir);
  preparePrivateDir(dir);
  preparePrivateDatabaseFile(config.database);
  return withPrivateUmask(() => EmbeddedSecureEnvironment.open(config, { now: deps.now, random: deps.random ?? systemRandom }));
};
