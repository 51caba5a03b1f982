import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ownerView, type Clock } from '../../../domain/ports/index.ts';
import { isEmbedded } from '../../runtime/data-folder.ts';
import { logKeyHeld } from '../../runtime/folder-keys-in-token.ts';
import { openAccessRegistry, openServiceSecureEnvironment, secureEnvironmentConfigForDataDir, systemClock, systemRandom } from '../../runtime/index.ts';
import type { ServiceConfig } from '../service-config.ts';
import { TokenConfig } from '../token-config.ts';
import { accessSigningKeyMissing, createAccessControl, type AccessControl } from './access-control.ts';

/** The owner of the API token signing key in the Secure Environment: no other component can use that key. */
export const ACCESS_OWNER = 'credence:access';

export interface LocalAccessControl {
  readonly access: AccessControl;
  close(): void;
}

/** The access registry's file in the data folder (ACCESS_DB_FILE of adapters/driven/access, not reachable from here). */
const ACCESS_DB_FILE = 'access.db';

/**
 * Refuses, before anything is opened, a folder whose access.db names a signing key while the data folder has no
 * embedded Secure Environment to hold it (a folder served with PKCS#11, the command not told so; or its Secure
 * Environment files lost). Opening the embedded one would make it, empty, only to refuse: review 46 found a read-only
 * `token list` leaving a new secure-environment.kek, .sqlite and .wrapping-keys behind, then asking to restore them.
 */
export const refuseAKeyNoSecureEnvironmentHolds = (dataDir: string, setting: string | undefined): void => {
  if (!isEmbedded(setting) || !existsSync(join(dataDir, ACCESS_DB_FILE)) || existsSync(secureEnvironmentConfigForDataDir(dataDir).database)) return;
  const registry = openAccessRegistry({ dir: dataDir });
  try {
    const handle = registry.currentSigningKey();
    if (handle !== undefined) throw accessSigningKeyMissing(handle);
  } finally {
    registry.close();
  }
};

/**
 * The access control of a data folder without a running server: `credence token create|list|revoke` on the machine
 * that holds the data (the first admin token has to come from somewhere). Same signing key and access.db as the
 * service, so tokens issued here work there and revocations here count there at once. `tokens` must match the
 * service's configuration (issuer, audience), which it does by default.
 */
export const openAccessControl = async (
  dataDir: string,
  options: {
    readonly clock?: Clock;
    readonly tokens?: Partial<ServiceConfig['tokens']>;
    /** The service's `secureEnvironment` setting: its signing key is where the service keeps it (issue 16). */
    readonly secureEnvironment?: string;
    /** Where a PKCS#11 PIN variable is read (process.env by default). */
    readonly env?: Readonly<Record<string, string | undefined>>;
    /** False for a listing: nothing pruned, no key destroyed (AccessControlOptions.prune). */
    readonly prune?: boolean;
  } = {},
): Promise<LocalAccessControl> => {
  const clock = options.clock ?? systemClock;
  const tokens = TokenConfig.parse(options.tokens ?? {});
  refuseAKeyNoSecureEnvironmentHolds(dataDir, options.secureEnvironment);
  // Review 209: and the keys of a folder's embedded Secure Environment are not looked for in a token (nor withdrawn):
  // openServiceSecureEnvironment refuses that folder with a token.
  const se = openServiceSecureEnvironment(dataDir, options.secureEnvironment, { now: () => clock.now(), ...(options.env ? { env: options.env } : {}) });
  let registry: ReturnType<typeof openAccessRegistry> | undefined;
  try {
    registry = openAccessRegistry({ dir: dataDir });
    const access = await createAccessControl({
      se: ownerView(se, ACCESS_OWNER),
      registry,
      clock,
      random: systemRandom,
      ...tokens,
      ...(options.prune === false ? { prune: false } : {}),
      // Its maxTtlSeconds may not be the service's: a token only it refuses keeps its key (review 158).
      lifetimeEndsKeys: false,
      // Review 133: a current key the token does not hold refuses only the signing of a token here, so that `token
      // revoke` (README restore step 2) and `token rotate-key --withdraw-missing`, which withdraws it, still run.
      keysInToken: !isEmbedded(options.secureEnvironment),
      openWithoutCurrentKey: true,
      // Review 137: read only when a rotation meets such a key, to refuse a token shown not to be the folder's.
      otherKeysOfTheFolder: () => logKeyHeld(se, dataDir),
    });
    const opened = registry;
    return {
      access,
      close() {
        opened.close();
        se.close();
      },
    };
  } catch (error) {
    registry?.close();
    se.close();
    throw error;
  }
};
