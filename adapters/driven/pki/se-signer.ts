import type { KeyHandle, OwnedSecureEnvironment } from '../../../domain/ports/secure-environment.ts';
import type { CaKeyKind, X509Signer } from '../../../domain/x509/issuing-ca.ts';
import { x509Signature } from '../../../domain/x509/issuance/index.ts';

/**
 * An X509Signer over a Secure Environment key: the key signs inside it (C_Sign with a PKCS#11 one); only the
 * signature comes out, in the form X.509 carries it (P-256: the port's r||s made DER). The key's kind and usage are
 * checked once here, so a wrong handle fails at load, not at the first certificate.
 */
export const seSigner = async (se: OwnedSecureEnvironment, handle: KeyHandle, kind: CaKeyKind): Promise<X509Signer> => {
  const described = await se.describe(handle);
  if (described.kind !== kind || described.publicKey === undefined || described.usage !== 'sign') {
    throw new TypeError(`Secure Environment key ${handle} is not a ${kind} signing key (it is ${described.kind}${described.usage ? `, ${described.usage}` : ''})`);
  }
  const publicKey = described.publicKey;
  return Object.freeze({
    kind,
    publicKey,
    sign: async (tbs: Uint8Array) => x509Signature(kind, await se.sign(handle, tbs)),
  });
};
