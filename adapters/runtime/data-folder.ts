import { randomBytes } from 'node:crypto';
import type { RandomSource } from '../../domain/ports/index.ts';
import { preparePrivateDatabaseFile, preparePrivateDir, tightenPrivateDatabaseFile, withPrivateUmask } from '../driven/files/index.ts';
export { describeHolder, lockDataFolder, SERVICE_LOCK_FILE, tryLockDataFolder, type DataFolderLock } from '../driven/files/index.ts';
import { EmbeddedSecureEnvironment, Pkcs11SecureEnvironment, secureEnvironmentConfigForDataDir, wrappingKeysPath } from '../driven/secure-environment/index.ts';
import type { OwnerScopedSecureEnvironment } from '../../domain/ports/secure-environment.ts';

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
  // As secret as the KEK (a copy revives destroyed keys): made private if a restore left it readable, never created
  // here (a missing one is refused by the key vault, not replaced by an empty file).
  tightenPrivateDatabaseFile(wrappingKeysPath(config));
  return withPrivateUmask(() => EmbeddedSecureEnvironment.open(config, { now: deps.now, random: deps.random ?? systemRandom }));
};

/** A Secure Environment a service owns and closes: the embedded one or one over PKCS#11. */
export type ClosableSecureEnvironment = OwnerScopedSecureEnvironment & { close(): void };

/** Whether a `secureEnvironment` setting names the data folder's own Secure Environment (its keys are in the folder). */
export const isEmbedded = (setting: string | undefined): boolean => setting === undefined || setting === 'embedded';

/**
 * The service's Secure Environment per its `secureEnvironment` setting (issue 16): absent or `embedded`, the data
 * folder's embedded one; a `pkcs11:` URI, the keys in that token (docs/hsm.md), the PIN from the URI's pin-source
 * or CREDENCE_PKCS11_PIN in `env`. The caller closes it after the instance.
 */
export const openServiceSecureEnvironment = (
  dir: string,
  setting: string | undefined,
  deps: { readonly now: () => Date; readonly random?: RandomSource; readonly env?: Readonly<Record<string, string | undefined>> },
): ClosableSecureEnvironment =>
  isEmbedded(setting)
    ? openDataFolderSecureEnvironment(dir, deps)
    : Pkcs11SecureEnvironment.open({ uri: setting }, { random: deps.random ?? systemRandom, ...(deps.env ? { env: deps.env } : {}) });
