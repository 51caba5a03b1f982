import { ownerView, type Clock } from '../../../domain/ports/index.ts';
import { openAccessRegistry, openServiceSecureEnvironment, systemClock, systemRandom } from '../../runtime/index.ts';
import { TokenConfig, type ServiceConfig } from '../config.ts';
import { createAccessControl, type AccessControl } from './access-control.ts';

/** The owner of the API token signing key in the Secure Environment: no other component can use that key. */
export const ACCESS_OWNER = 'credence:access';

export interface LocalAccessControl {
  readonly access: AccessControl;
  close(): void;
}

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
  } = {},
): Promise<LocalAccessControl> => {
  const clock = options.clock ?? systemClock;
  const tokens = TokenConfig.parse(options.tokens ?? {});
  const se = openServiceSecureEnvironment(dataDir, options.secureEnvironment, { now: () => clock.now(), ...(options.env ? { env: options.env } : {}) });
  let registry: ReturnType<typeof openAccessRegistry> | undefined;
  try {
    registry = openAccessRegistry({ dir: dataDir });
    const access = await createAccessControl({ se: ownerView(se, ACCESS_OWNER), registry, clock, random: systemRandom, ...tokens });
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
