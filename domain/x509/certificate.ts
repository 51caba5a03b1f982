import { constantTimeEqual } from '../crypto/bytes.ts';
// @peculiar/x509 resolves its parsers through tsyringe, which needs the Reflect metadata API loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { certificateRejected } from './rejection.ts';

/**
 * One certificate seen three ways, all from the same DER: @peculiar/x509 for typed extensions and signature
 * verification (it handles Ed25519), pkijs for its path-validation engine, and the raw asn1js elements of the
 * TBSCertificate for what must be compared as encoded (names, algorithm identifiers, serial number).
 */
export interface ParsedCertificate {
  readonly der: Uint8Array;
  readonly label: string;
  readonly cert: x509.X509Certificate;
  readonly pki: pkijs.Certificate;
  readonly raw: {
    /** Version as encoded: 0 for v1 (field absent), 2 for v3. */
    readonly version: number;
    /** Content octets of the serialNumber INTEGER (two's complement, big-endian). */
    readonly serial: Uint8Array;
    readonly innerAlgorithm: Uint8Array;
    readonly outerAlgorithm: Uint8Array;
    readonly issuer: Uint8Array;
    readonly subject: Uint8Array;
  };
}

const bytes = (block: asn1js.AsnType): Uint8Array => new Uint8Array(block.valueBeforeDecodeView);

/** DER to a ParsedCertificate, or `malformed_certificate`; never an untyped throw. */
export const parseCertificate = (der: Uint8Array, label: string): ParsedCertificate => {
  try {
    const copy = new Uint8Array(der);
    const asn = asn1js.fromBER(copy);
    if (asn.offset === -1 || asn.offset !== copy.byteLength) throw new Error('not a single DER value');
    const outer = (asn.result as asn1js.Sequence).valueBlock.value;
    const tbs = (outer[0] as asn1js.Sequence).valueBlock.value;
    const explicitVersion = tbs[0]?.idBlock.tagClass === 3 && tbs[0].idBlock.tagNumber === 0;
    const fields = explicitVersion ? tbs.slice(1) : tbs;
    const [serial, inner, issuer, , subject] = fields;
    if (!(serial instanceof asn1js.Integer) || !inner || !issuer || !subject || !outer[1]) throw new Error('short TBSCertificate');
    const pki = new pkijs.Certificate({ schema: asn.result });
    return {
      der: copy,
      label,
      cert: new x509.X509Certificate(copy),
      pki,
      raw: {
        version: explicitVersion ? pki.version : 0,
        serial: new Uint8Array(serial.valueBlock.valueHexView),
        innerAlgorithm: bytes(inner),
        outerAlgorithm: bytes(outer[1]),
        issuer: bytes(issuer),
        subject: bytes(subject),
      },
    };
  } catch {
    throw certificateRejected('malformed_certificate', label);
  }
};

/** Encoded names, algorithm identifiers and keys compared byte for byte (public data: constant time is not needed, but one helper serves). */
export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => constantTimeEqual(a, b);

/** Self-issued: subject and issuer are the same encoded name (RFC 5280 6.1). */
export const isSelfIssued = (c: ParsedCertificate): boolean => sameBytes(c.raw.issuer, c.raw.subject);

/** Whether `issuer`'s key signed `subject` (the signature alone: names, validity and profile are checked apart). */
export const signedBy = async (subject: x509.X509Certificate, issuer: x509.X509Certificate): Promise<boolean> => {
  try {
    return await subject.verify({ publicKey: issuer, signatureOnly: true });
  } catch {
    return false;
  }
};
