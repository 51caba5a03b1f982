import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import type { CaKeyKind, X509Signer } from '../issuing-ca.ts';
import {
  authorityInfoAccess,
  authorityKeyIdentifier,
  basicConstraints,
  crlDistributionPoint,
  EXTENSION_OID,
  extendedKeyUsage,
  freshestCrl,
  keyUsage,
  subjectAltNameUris,
  subjectKeyIdentifier,
} from './extensions.ts';
import { keyIdentifier, pkiName, publicKeyInfo, signatureAlgorithm, signTbs, x509Time } from './signed.ts';

/**
 * X.509 v3 certificates (RFC 5280 section 4) built with pkijs and signed through an `X509Signer`, so the issuer's key
 * never leaves its Secure Environment. Pure: the serial's randomness and every time are inputs.
 */

/** Octets of a serial number (contract of issue 13): 16 random bytes, at least 64 random bits (CA/B BR 7.1). */
export const SERIAL_LENGTH = 16;

/**
 * A positive INTEGER of exactly 16 content octets from 16 random bytes: the top bit cleared (positive, no leading
 * 00 octet) and the first byte non-zero (no shorter encoding); 126 or more random bits remain.
 */
export const serialFromRandom = (random: Uint8Array): Uint8Array => {
  if (random.length !== SERIAL_LENGTH) throw new TypeError(`serial randomness must be ${SERIAL_LENGTH} bytes`);
  const serial = Uint8Array.from(random);
  serial[0] = serial[0]! & 0x7f;
  if (serial[0] === 0) serial[0] = 0x01;
  return serial;
};

export interface CertificateTemplate {
  readonly serial: Uint8Array;
  /** DER Names: the issuer's exactly as its own certificate encodes its subject (4.1.2.4). */
  readonly issuer: Uint8Array;
  readonly subject: Uint8Array;
  readonly subjectKey: { readonly kind: CaKeyKind; readonly bytes: Uint8Array };
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly extensions: readonly pkijs.Extension[];
}

/** The DER certificate of `template`, signed by `signer` (its kind names the signature algorithm inside and out). */
export const signCertificate = async (template: CertificateTemplate, signer: X509Signer): Promise<Uint8Array> => {
  if (!(template.notBefore < template.notAfter)) throw new RangeError('notBefore must be earlier than notAfter');
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = new asn1js.Integer({ valueHex: Uint8Array.from(template.serial) });
  cert.signature = signatureAlgorithm(signer.kind);
  cert.signatureAlgorithm = signatureAlgorithm(signer.kind);
  cert.issuer = pkiName(template.issuer);
  cert.subject = pkiName(template.subject);
  cert.notBefore = x509Time(template.notBefore);
  cert.notAfter = x509Time(template.notAfter);
  cert.subjectPublicKeyInfo = publicKeyInfo(template.subjectKey.kind, template.subjectKey.bytes);
  cert.extensions = [...template.extensions];
  const tbs = new Uint8Array(cert.encodeTBS().toBER());
  cert.tbsView = tbs;
  cert.signatureValue = await signTbs(signer, tbs);
  return new Uint8Array(cert.toSchema(false).toBER());
};

/** What a CA certificate says of itself that its issued certificates repeat: its subject (as encoded) and key id. */
type IssuerFacts = { readonly name: Uint8Array; readonly keyId: Uint8Array; readonly notBefore: Date; readonly notAfter: Date };
/** Parsed once per CA certificate object (a CA issues many certificates; its own does not change). */
const issuers = new WeakMap<Uint8Array, IssuerFacts>();

export const issuerOf = (caCertificate: Uint8Array): IssuerFacts => {
  const known = issuers.get(caCertificate);
  if (known !== undefined) return known;
  const facts = parseIssuer(caCertificate);
  issuers.set(caCertificate, facts);
  return facts;
};

/**
 * The subject exactly as the CA certificate encodes it (its bytes, never re-encoded: a PrintableString stays one, and
 * OpenSSL's path validation compares issuer and subject names after its own canonicalisation only), and the CA's
 * subjectKeyIdentifier, or RFC 7093 method 1 over its key when it has none.
 */
const parseIssuer = (caCertificate: Uint8Array): IssuerFacts => {
  const cert = pkijs.Certificate.fromBER(Uint8Array.from(caCertificate));
  const ski = cert.extensions?.find((e) => e.extnID === EXTENSION_OID.subjectKeyIdentifier)?.parsedValue;
  return {
    name: new Uint8Array(cert.subject.valueBeforeDecode),
    keyId:
      ski instanceof asn1js.OctetString
        ? new Uint8Array(ski.valueBlock.valueHexView)
        : keyIdentifier(new Uint8Array(cert.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView)),
    notBefore: cert.notBefore.value,
    notAfter: cert.notAfter.value,
  };
};

/**
 * A self-signed root CA certificate: basicConstraints cA (critical), keyUsage keyCertSign and cRLSign (critical;
 * the CA signs its certificates and CRLs, its delegated responder signs OCSP), its subject key identifier.
 */
export const selfSignedCaCertificate = (args: {
  readonly name: Uint8Array;
  readonly signer: X509Signer;
  readonly serial: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
}): Promise<Uint8Array> => {
  const keyId = keyIdentifier(args.signer.publicKey);
  return signCertificate(
    {
      serial: args.serial,
      issuer: args.name,
      subject: args.name,
      subjectKey: { kind: args.signer.kind, bytes: args.signer.publicKey },
      notBefore: args.notBefore,
      notAfter: args.notAfter,
      extensions: [basicConstraints(true), keyUsage(['keyCertSign', 'cRLSign']), subjectKeyIdentifier(keyId), authorityKeyIdentifier(keyId)],
    },
    args.signer,
  );
};

export interface EndEntityCertificateRequest {
  readonly ca: { readonly certificate: Uint8Array; readonly signer: X509Signer };
  readonly serial: Uint8Array;
  readonly subject: Uint8Array;
  readonly subjectEmpty: boolean;
  readonly subjectKey: { readonly kind: CaKeyKind; readonly bytes: Uint8Array };
  readonly uris: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** extKeyUsage purposes (clientAuth for devices). */
  readonly purposes: readonly string[];
  /** Where relying parties check it (pkiUrls): CRL, delta CRL, OCSP, the CA certificate. */
  readonly urls: { readonly crl: string; readonly deltaCrl: string; readonly ocsp: string; readonly caCertificate: string };
}

/**
 * An end-entity certificate: basicConstraints cA false and keyUsage digitalSignature (both critical), the purposes
 * as extKeyUsage, URI subject alternative names, key identifiers, and where its status is published (CRL
 * distribution point, freshest CRL, OCSP and caIssuers in authorityInfoAccess).
 */
export const endEntityCertificate = (r: EndEntityCertificateRequest): Promise<Uint8Array> => {
  const issuer = issuerOf(r.ca.certificate);
  return signCertificate(
    {
      serial: r.serial,
      issuer: issuer.name,
      subject: r.subject,
      subjectKey: r.subjectKey,
      notBefore: r.notBefore,
      notAfter: r.notAfter,
      extensions: [
        basicConstraints(false),
        keyUsage(['digitalSignature']),
        extendedKeyUsage(r.purposes),
        ...(r.uris.length > 0 ? [subjectAltNameUris(r.uris, r.subjectEmpty)] : []),
        subjectKeyIdentifier(keyIdentifier(r.subjectKey.bytes)),
        authorityKeyIdentifier(issuer.keyId),
        crlDistributionPoint(r.urls.crl),
        freshestCrl(r.urls.deltaCrl),
        authorityInfoAccess({ ocsp: r.urls.ocsp, caIssuers: r.urls.caCertificate }),
      ],
    },
    r.ca.signer,
  );
};
