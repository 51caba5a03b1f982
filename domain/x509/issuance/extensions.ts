import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { der } from './signed.ts';

/**
 * Certificate extensions Credence writes (RFC 5280 section 4.2), each from pkijs's own ASN.1 classes. A profile is a
 * list of these; `extension` takes any other one already encoded (an OCSP signer's id-pkix-ocsp-nocheck, say).
 */

export const EXTENSION_OID = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  cRLDistributionPoints: '2.5.29.31',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  freshestCRL: '2.5.29.46',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
} as const;

export const KEY_PURPOSE = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
} as const;

const ACCESS_METHOD = { ocsp: '1.3.6.1.5.5.7.48.1', caIssuers: '1.3.6.1.5.5.7.48.2' } as const;

/** Any extension from its OID, criticality and the DER of its value. */
export const extension = (extnID: string, critical: boolean, value: Uint8Array): pkijs.Extension =>
  new pkijs.Extension({ extnID, critical, extnValue: Uint8Array.from(value).buffer });

/** KeyUsage bits (4.2.1.3), numbered as the RFC numbers them. */
export const KEY_USAGE_BIT = { digitalSignature: 0, keyAgreement: 4, keyCertSign: 5, cRLSign: 6 } as const;

/** keyUsage, always critical here (4.2.1.3: SHOULD be): a DER BIT STRING without trailing zero bits. */
export const keyUsage = (bits: readonly (keyof typeof KEY_USAGE_BIT)[]): pkijs.Extension => {
  const numbers = bits.map((b) => KEY_USAGE_BIT[b]);
  const highest = Math.max(...numbers);
  const bytes = new Uint8Array(Math.floor(highest / 8) + 1);
  for (const n of numbers) bytes[n >> 3]! |= 0x80 >> (n & 7);
  const unusedBits = 7 - (highest & 7);
  return extension(EXTENSION_OID.keyUsage, true, new Uint8Array(new asn1js.BitString({ valueHex: bytes, unusedBits }).toBER()));
};

/** basicConstraints (4.2.1.9), critical: cA with an optional path length, or an end entity (empty SEQUENCE). */
export const basicConstraints = (ca: boolean, pathLength?: number): pkijs.Extension =>
  extension(
    EXTENSION_OID.basicConstraints,
    true,
    der(new pkijs.BasicConstraints({ ...(ca ? { cA: true } : {}), ...(ca && pathLength !== undefined ? { pathLenConstraint: pathLength } : {}) })),
  );

export const subjectKeyIdentifier = (keyId: Uint8Array): pkijs.Extension =>
  extension(EXTENSION_OID.subjectKeyIdentifier, false, new Uint8Array(new asn1js.OctetString({ valueHex: keyId }).toBER()));

export const authorityKeyIdentifier = (keyId: Uint8Array): pkijs.Extension =>
  extension(EXTENSION_OID.authorityKeyIdentifier, false, der(new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: keyId }) })));

export const extendedKeyUsage = (purposes: readonly string[]): pkijs.Extension =>
  extension(EXTENSION_OID.extKeyUsage, false, der(new pkijs.ExtKeyUsage({ keyPurposes: [...purposes] })));

/** uniformResourceIdentifier GeneralNames. */
const uris = (values: readonly string[]): pkijs.GeneralName[] => values.map((value) => new pkijs.GeneralName({ type: 6, value }));

/** subjectAltName of URIs; critical when the subject is empty (4.2.1.6). */
export const subjectAltNameUris = (values: readonly string[], subjectEmpty: boolean): pkijs.Extension =>
  extension(EXTENSION_OID.subjectAltName, subjectEmpty, der(new pkijs.AltName({ altNames: uris(values) })));

const distributionPoints = (oid: string, url: string): pkijs.Extension =>
  extension(oid, false, der(new pkijs.CRLDistributionPoints({ distributionPoints: [new pkijs.DistributionPoint({ distributionPoint: uris([url]) })] })));

/** cRLDistributionPoints (4.2.1.13): where the full CRL is. */
export const crlDistributionPoint = (url: string): pkijs.Extension => distributionPoints(EXTENSION_OID.cRLDistributionPoints, url);

/** freshestCRL (4.2.1.15): where the delta CRL is. */
export const freshestCrl = (url: string): pkijs.Extension => distributionPoints(EXTENSION_OID.freshestCRL, url);

/** authorityInfoAccess (4.2.2.1): the OCSP responder and the issuer's certificate. */
export const authorityInfoAccess = (urls: { readonly ocsp?: string; readonly caIssuers?: string }): pkijs.Extension =>
  extension(
    EXTENSION_OID.authorityInfoAccess,
    false,
    der(
      new pkijs.InfoAccess({
        accessDescriptions: [
          ...(urls.ocsp !== undefined ? [new pkijs.AccessDescription({ accessMethod: ACCESS_METHOD.ocsp, accessLocation: uris([urls.ocsp])[0]! })] : []),
          ...(urls.caIssuers !== undefined
            ? [new pkijs.AccessDescription({ accessMethod: ACCESS_METHOD.caIssuers, accessLocation: uris([urls.caIssuers])[0]! })]
            : []),
        ],
      }),
    ),
  );
