/**
 * Issue 16 (SER-023): the PKCS#11 Secure Environment on SoftHSM2 passes the same conformance suite as the embedded
 * one, in both modes: `x-derivation=host` (the documented fallback for HKDF, XChaCha20-Poly1305 and X25519) and the
 * default `x-derivation=token` (review 299: never run before), where those are refused as `mechanism_unsupported`
 * and P-256 is the one agreement group.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe } from 'vitest';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { secureEnvironmentConformance } from './secure-environment-conformance.suite.ts';
import { softHsm, softHsmMissing, type TestToken } from './support/softhsm.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));

const opener = (token: TestToken, query: string | undefined) => (options: { readonly owners?: readonly string[] } = {}) => {
  const config = { uri: token.uri(query), ...(options.owners ? { owners: [...options.owners] } : {}) };
  const se = Pkcs11SecureEnvironment.open(config, { random });
  return {
    se,
    restart: () => {
      se.close();
      return Pkcs11SecureEnvironment.open(config, { random });
    },
  };
};

describe.skipIf(softHsmMissing !== undefined)('PKCS#11 Secure Environment on SoftHSM2', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  // Both made before the module is first opened in this process (support/softhsm.ts).
  const hostToken = hsm.token('conformance');
  const tokenToken = hsm.token('conformance-token');
  secureEnvironmentConformance({
    name: 'PKCS#11 (SoftHSM2, x-derivation=host)',
    agreementGroups: ['p256', 'x25519'],
    derivation: 'offered',
    open: opener(hostToken, 'x-derivation=host'),
  });
  secureEnvironmentConformance({
    name: 'PKCS#11 (SoftHSM2, x-derivation=token, the default)',
    agreementGroups: ['p256'],
    derivation: 'refused',
    open: opener(tokenToken, undefined),
  });
});
