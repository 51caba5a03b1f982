// SHA-1 here only names an issuer in an OCSP CertID (RFC 6960 4.1.1, the hash OpenSSL and most clients send) and a
// responder by its key (ResponderID byKey, 4.2.1): identifiers, never a signature or a security decision.
import { sha1 } from '@noble/hashes/legacy.js';
import { sha384, sha512 } from '@noble/hashes/sha2.js';
import * as pkijs from 'pkijs';
import { sha256 } from '../../crypto/index.ts';
import { issuerOf } from '../issuance/index.ts';

/**
 * RFC 6960 4.1.1 lets a client hash a CertID with any algorithm; these are the ones clients send (OpenSSL's `-sha1`
 * default, `-sha256`, `-sha384`, `-sha512`). A CertID hashed otherwise names no issuer this responder can recognise.
 */
export type CertIdHash = 'sha1' | 'sha256' | 'sha384' | 'sha512';

export const CERT_ID_HASH_OID: Readonly<Record<CertIdHash, string>> = {
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
};

/** What a CA's CRLs and OCSP responses say about it, read once from its certificate. */
export interface RevocationIssuer {
  /** The DER of the CA's subject Name: the issuer of its CRLs (RFC 5280 5.1.2.3). */
  readonly name: Uint8Array;
  /** Its subjectKeyIdentifier: the authorityKeyIdentifier of its CRLs (5.2.1) and of its responder's certificate. */
  readonly keyIdentifier: Uint8Array;
  /** issuerNameHash and issuerKeyHash of an OCSP CertID naming this CA, per hash algorithm (RFC 6960 4.1.1). */
  readonly certIdHashes: Readonly<Record<CertIdHash, { readonly name: Uint8Array; readonly key: Uint8Array }>>;
}

/** Throws (a programming mistake: the CA's own certificate was checked when it was loaded) on a DER that is none. */
export const revocationIssuer = (certificate: Uint8Array): RevocationIssuer => {
  const { name, keyId } = issuerOf(certificate);
  // The BIT STRING's value without its unused-bits octet (RFC 6960 4.1.1: "excluding the tag and length fields").
  const key = pkijs.Certificate.fromBER(Uint8Array.from(certificate)).subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView.slice();
  return {
    name,
    keyIdentifier: keyId,
    certIdHashes: {
      sha1: { name: sha1(name), key: sha1(key) },
      sha256: { name: sha256(name), key: sha256(key) },
      sha384: { name: sha384(name), key: sha384(key) },
      sha512: { name: sha512(name), key: sha512(key) },
    },
  };
};

/** SHA-1 of a public key BIT STRING's value: the ResponderID byKey (RFC 6960 4.2.1). */
export const keyHash = (subjectPublicKey: Uint8Array): Uint8Array => sha1(subjectPublicKey);
