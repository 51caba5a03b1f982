import { concatBytes } from '../../crypto/index.ts';

/**
 * DER framing (X.690 8.1.2, 8.1.3 definite form) for what is assembled from bytes already encoded: a full CRL is
 * its cached revokedCertificates entries concatenated, not re-encoded object by object, so that issuing it costs
 * a copy of the bytes and one signature however many certificates were revoked.
 */
const lengthOctets = (length: number): Uint8Array => {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError('length: must be a whole number >= 0');
  if (length < 0x80) return Uint8Array.of(length);
  const octets: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) octets.unshift(rest % 256);
  return Uint8Array.from([0x80 | octets.length, ...octets]);
};

/** Tag, length and the concatenated contents. */
export const tlv = (tag: number, ...contents: readonly Uint8Array[]): Uint8Array => {
  const length = contents.reduce((sum, c) => sum + c.length, 0);
  return concatBytes(Uint8Array.of(tag), lengthOctets(length), ...contents);
};

export const SEQUENCE = 0x30;
export const BIT_STRING = 0x03;
/** [0] EXPLICIT, constructed, context-specific. */
export const CONTEXT_0 = 0xa0;

/**
 * A signed X.509 structure (Certificate, CertificateList, RFC 5280 4.1 and 5.1): the signed bytes as they are,
 * the algorithm and the signature as a BIT STRING with no unused bits.
 */
export const signedStructure = (tbs: Uint8Array, algorithm: Uint8Array, signature: Uint8Array): Uint8Array =>
  tlv(SEQUENCE, tbs, algorithm, tlv(BIT_STRING, Uint8Array.of(0), signature));
