import * as asn1js from 'asn1js';
import {
  authorityKeyIdentifier,
  basicConstraints,
  extendedKeyUsage,
  extension,
  issuerOf,
  KEY_PURPOSE,
  keyIdentifier,
  keyUsage,
  nameOf,
  signCertificate,
  subjectKeyIdentifier,
} from '../issuance/index.ts';
import type { CaKeyKind, X509Signer } from '../issuing-ca.ts';

/** id-pkix-ocsp-nocheck (RFC 6960 4.2.2.2.1). */
const OCSP_NOCHECK = '1.3.6.1.5.5.7.48.1.5';
const COMMON_NAME = '2.5.4.3';

export interface OcspSigningCertificateRequest {
  readonly ca: { readonly certificate: Uint8Array; readonly signer: X509Signer };
  /** Positive INTEGER content octets (serialFromRandom over the RandomSource port). */
  readonly serial: Uint8Array;
  readonly commonName: string;
  readonly responderKey: { readonly kind: CaKeyKind; readonly bytes: Uint8Array };
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/**
 * The certificate of a delegated OCSP responder (RFC 6960 4.2.2.2): issued by the CA it answers for, with extended
 * key usage id-kp-OCSPSigning and id-pkix-ocsp-nocheck (4.2.2.2.1) so clients do not ask about the responder itself.
 * Its validity is short and it is renewed before it ends, which is what makes nocheck acceptable.
 */
export const issueOcspSigningCertificate = (r: OcspSigningCertificateRequest): Promise<Uint8Array> => {
  const issuer = issuerOf(r.ca.certificate);
  return signCertificate(
    {
      serial: r.serial,
      issuer: issuer.name,
      subject: nameOf([{ type: COMMON_NAME, value: r.commonName }]),
      subjectKey: r.responderKey,
      notBefore: r.notBefore,
      notAfter: r.notAfter,
      extensions: [
        basicConstraints(false),
        keyUsage(['digitalSignature']),
        extendedKeyUsage([KEY_PURPOSE.ocspSigning]),
        extension(OCSP_NOCHECK, false, new Uint8Array(new asn1js.Null().toBER())),
        subjectKeyIdentifier(keyIdentifier(r.responderKey.bytes)),
        authorityKeyIdentifier(issuer.keyId),
      ],
    },
    r.ca.signer,
  );
};
