import { z } from 'zod';
import type { RandomSource } from '../../../../domain/ports/random.ts';
import { MAX_OWNERS } from '../embedded-config.ts';
import { MAX_OWNER_CHARS } from '../port-checks.ts';

export const Pkcs11SecureEnvironmentConfig = z.strictObject({
  /** RFC 7512 PKCS#11 URI (uri.ts); parsed there, with its own typed errors. */
  uri: z.string().min(1).max(8192),
  /** When given, the only owners this environment serves (as the embedded one's `owners`). */
  owners: z.array(z.string().min(1).max(MAX_OWNER_CHARS)).min(1).max(MAX_OWNERS).optional(),
});
export type Pkcs11SecureEnvironmentConfig = z.infer<typeof Pkcs11SecureEnvironmentConfig>;

export interface Pkcs11SecureEnvironmentDeps {
  readonly random: RandomSource;
  /**
   * Where an `env:` PIN source (and the default CREDENCE_PKCS11_PIN) is read; process.env by default, and then the
   * variable is deleted from it at open (pin-source.ts); an object passed here is read and left as it is.
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
}
