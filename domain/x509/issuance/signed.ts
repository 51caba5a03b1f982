// @peculiar/x509 resolves its parsers through tsyringe, which needs the Reflect metadata API loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { p256 } from '@noble/curves/nist.js';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { SIGNATURE_LENGTH } from '../../crypto/signatures.ts';
import { subjectPublicKeyInfo } from '../../crypto/fingerprint.ts';
import { sha256 } from '../../crypto/hash.ts';
import type { CaKeyKind, X509Signer } from '../issuing-ca.ts';

/**
 * What every signed X.509 structure Credence makes shares (certificates here; CRLs and OCSP responses in
 * ../revocation): algorithm identifiers, names, key identifiers and the assembly of a to-be-signed part with its
 * signature from an `X509Signer` (the key stays in the Secure Environment). Pure: the signer is the only effect.
 */

/** id-Ed25519 (RFC 8410 section 3) and ecdsa-with-SHA256 (RFC 5758 section 3.2): both without parameters. */
export const SIGNATURE_ALGORITHM_OID: Readonly<Record<CaKeyKind, string>> = {
  ed25519: '1.3.101.112',
  p256: '1.2.840.10045.4.3.2',
};

export const signatureAlgorithm = (kind: CaKeyKind): pkijs.AlgorithmIdentifier =>
  new pkijs.AlgorithmIdentifier({ algorithmId: SIGNATURE_ALGORITHM_OID[kind] });

/**
 * The signature as X.509 carries it, from a Secure Environment's: Ed25519 unchanged (64 bytes, RFC 8410); P-256
 * from the port's fixed-size r||s to the DER Ecdsa-Sig-Value (RFC 5480 / RFC 3279 2.2.3).
 */
export const x509Signature = (kind: CaKeyKind, raw: Uint8Array): Uint8Array => {
  if (raw.length !== SIGNATURE_LENGTH) throw new TypeError(`signature must be ${SIGNATURE_LENGTH} bytes, got ${raw.length}`);
  return kind === 'ed25519' ? raw : p256.Signature.fromBytes(raw, 'compact').toBytes('der');
};

/**
 * The other way, for verifying what others signed (a CSR made by OpenSSL): DER Ecdsa-Sig-Value to the compact
 * r||s that domain/crypto/signatures verifies. That module accepts only low-S signatures (one valid form, for the
 * replay caches); a CSR's signature is only a proof of possession, and OpenSSL makes high-S ones half of the time,
 * so S is normalised here (s and n - s prove the same thing). Undefined when it is not a DER signature.
 */
export const compactEcdsaSignature = (der: Uint8Array): Uint8Array | undefined => {
  try {
    const signature = p256.Signature.fromBytes(der, 'der');
    const low = signature.hasHighS() ? new p256.Signature(signature.r, p256.Point.CURVE().n - signature.s) : signature;
    return low.toBytes('compact');
  } catch {
    return undefined;
  }
};

/**
 * A Name of one RDN per attribute, each a UTF8String (RFC 5280 4.1.2.4, 4.1.2.6). pkijs would put every attribute
 * into one multi-valued RDN, hence the explicit SEQUENCE OF SET.
 */
export const nameOf = (attributes: readonly { readonly type: string; readonly value: string }[]): Uint8Array =>
  new Uint8Array(
    new asn1js.Sequence({
      value: attributes.map(
        (a) =>
          new asn1js.Set({
            value: [new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: a.type }), new asn1js.Utf8String({ value: a.value })] })],
          }),
      ),
    }).toBER(),
  );

/** pkijs's view of an encoded Name, keeping its exact bytes (it re-emits them as they were). */
export const pkiName = (der: Uint8Array): pkijs.RelativeDistinguishedNames =>
  new pkijs.RelativeDistinguishedNames({ schema: asn1js.fromBER(new Uint8Array(der)).result });

/** The RFC 4514 text of an encoded Name, as @peculiar/x509 renders it (what events record as subject and issuer). */
export const nameText = (der: Uint8Array): string => new x509.Name(new Uint8Array(der)).toString();

export const OID = { commonName: '2.5.4.3' } as const;

export const publicKeyInfo = (kind: CaKeyKind, publicKey: Uint8Array): pkijs.PublicKeyInfo =>
  pkijs.PublicKeyInfo.fromBER(new Uint8Array(subjectPublicKeyInfo(kind, publicKey)));

/**
 * Key identifier (subjectKeyIdentifier, and the authorityKeyIdentifier of what the key signs): the leftmost 160 bits
 * of the SHA-256 of the subjectPublicKey BIT STRING's value, RFC 7093 section 2 method 1.
 */
export const keyIdentifier = (publicKey: Uint8Array): Uint8Array => sha256(publicKey).slice(0, 20);

/**
 * X.509 times (RFC 5280 4.1.2.5): UTCTime for 1950 through 2049 (its two-digit year means nothing else),
 * GeneralizedTime outside that, whole seconds. A time with milliseconds is refused rather than rounded: a
 * certificate's validity is stated exactly or not at all.
 */
export const x509Time = (at: Date): pkijs.Time => {
  if (at.getTime() % 1000 !== 0) throw new RangeError(`X.509 times are whole seconds: ${at.toISOString()}`);
  const year = at.getUTCFullYear();
  return new pkijs.Time({ type: year >= 1950 && year < 2050 ? 0 : 1, value: at });
};

/**
 * Signs `tbs` (the DER of a TBSCertificate, TBSCertList or ResponseData) with `signer` and returns the signature as
 * a BIT STRING value. The caller names `signatureAlgorithm(signer.kind)` inside the structure, so the two agree.
 */
export const signTbs = async (signer: X509Signer, tbs: Uint8Array): Promise<asn1js.BitString> => {
  const signature = await signer.sign(tbs);
  return new asn1js.BitString({ valueHex: signature });
};

/** The DER of a value pkijs can encode. */
export const der = (schema: { toSchema(): asn1js.AsnType }): Uint8Array => new Uint8Array(schema.toSchema().toBER());
