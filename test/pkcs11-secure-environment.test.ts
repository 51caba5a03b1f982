/**
 * Issue 16 (SER-023): the PKCS#11 Secure Environment on SoftHSM2 passes the same conformance suite as the embedded
 * one (with `x-derivation=host`, the documented fallback for HKDF, XChaCha20-Poly1305 and X25519).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe } from 'vitest';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { secureEnvironmentConformance } from './secure-environment-conformance.suite.ts';
import { softHsm, softHsmMissing } from './support/softhsm.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));

describe.skipIf(softHsmMissing !== undefined)('PKCS#11 Secure Environment on SoftHSM2', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('conformance');
  secureEnvironmentConformance({
    name: 'PKCS#11 (SoftHSM2, x-derivation=host)',
    agreementGroups: ['p256', 'x25519'],
    open: (options = {}) => {
      const config = { uri: token.uri('x-derivation=host'), ...(options.owners ? { owners: [...options.owners] } : {}) };
      const se = Pkcs11SecureEnvironment.open(config, { random });
      return {
        se,
        restart: () => {
          se.close();
          return Pkcs11SecureEnvironment.open(config, { random });
        },
      };
    },
  });
});
