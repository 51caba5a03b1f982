import { z } from 'zod';

/**
 * Credence as an issuing CA for relying parties (issue 13): the shape shared by certificate issuance (remote
 * provisioning from a CSR), the CRL projection and the OCSP responder. The CA's private key never leaves the Secure
 * Environment: an `X509Signer` signs to-be-signed DER through it.
 */

/** A CA's id: `default`, or the M2M Service Subscription it serves. Used in URLs, file names and events. */
export const CaId = z.string().max(63).regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be 1-63 lowercase letters, digits or dashes');
export type CaId = z.infer<typeof CaId>;

export type CaKeyKind = 'ed25519' | 'p256';

/**
 * Signs the DER of a TBSCertificate, TBSCertList or ResponseData: Ed25519 (RFC 8410) returns the raw 64-byte
 * signature; P-256 (ecdsa-with-SHA256, RFC 5758) returns the DER Ecdsa-Sig-Value, as X.509 carries it.
 */
export interface X509Signer {
  readonly kind: CaKeyKind;
  /** Ed25519 32 bytes; P-256 65-byte uncompressed point. */
  readonly publicKey: Uint8Array;
  sign(tbs: Uint8Array): Promise<Uint8Array>;
}

export interface IssuingCa {
  readonly id: CaId;
  /** DER of this CA's certificate. */
  readonly certificate: Uint8Array;
  /** DER of the certificates above it, nearest issuer first, up to and including the root; empty for a root. */
  readonly chain: readonly Uint8Array[];
  readonly signer: X509Signer;
}

/** Where relying parties fetch a CA's certificate and revocation status: embedded in every certificate (CDP, AIA). */
export const pkiUrls = (baseUrl: string, caId: CaId) => {
  const base = `${baseUrl.replace(/\/+$/, '')}/pki/${caId}`;
  return { caCertificate: `${base}/ca.crt`, crl: `${base}/crl`, deltaCrl: `${base}/delta-crl`, ocsp: `${base}/ocsp` } as const;
};
