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
  MAX_COMMON_NAME,
  nameOf,
  signCertificate,
  subjectKeyIdentifier,
} from '../issuance/index.ts';
import type { CaKeyKind, X509Signer } from '../issuing-ca.ts';

/** id-pkix-ocsp-nocheck (RFC 6960 4.2.2.2.1). */
const OCSP_NOCHECK = '1.3.6.1.5.5.7.48.1.5';
const COMMON_NAME = '2.5.4.3';
const ORGANIZATIONAL_UNIT = '2.5.4.11';
/** RFC 5280 Appendix A ub-organizational-unit-name. */
const MAX_ORGANIZATIONAL_UNIT = 64;

/** Characters as the bounds count them (code points, as parseDistinguishedName does), not UTF-16 units. */
const characters = (value: string): number => [...value].length;

/** What a responder certificate's subject says: `CN=<commonName>`, or `CN=<commonName>, OU=<organizationalUnit>`. */
export interface OcspResponderNaming {
  readonly commonName: string;
  readonly organizationalUnit?: string | undefined;
}

/**
 * The responder's subject as its certificate encodes it, CN's RDN first as parseDistinguishedName encodes the text
 * `CN=…, OU=…` (so `credence ca init`'s default `CN=Credence CA, OU=<id>` and this read alike everywhere). A value
 * past its RFC 5280 Appendix A bound is a fault of the caller, never encoded (review 351: a CN of 87 characters was).
 */
export const ocspResponderName = (n: OcspResponderNaming): Uint8Array => {
  const cn = characters(n.commonName);
  if (cn > MAX_COMMON_NAME) throw new Error(`OCSP responder CN is ${cn} characters, at most ${MAX_COMMON_NAME} (ub-common-name, RFC 5280 Appendix A)`);
  const ou = n.organizationalUnit === undefined ? 0 : characters(n.organizationalUnit);
  if (ou > MAX_ORGANIZATIONAL_UNIT) throw new Error(`OCSP responder OU is ${ou} characters, at most ${MAX_ORGANIZATIONAL_UNIT} (ub-organizational-unit-name, RFC 5280 Appendix A)`);
  return nameOf([
    { type: COMMON_NAME, value: n.commonName },
    ...(n.organizationalUnit === undefined ? [] : [{ type: ORGANIZATIONAL_UNIT, value: n.organizationalUnit }]),
  ]);
};

export interface OcspSigningCertificateRequest extends OcspResponderNaming {
  readonly ca: { readonly certificate: Uint8Array; readonly signer: X509Signer };
  /** Positive INTEGER content octets (serialFromRandom over the RandomSource port). */
  readonly serial: Uint8Array;
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
      subject: ocspResponderName(r),
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
