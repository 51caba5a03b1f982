import * as x509 from '@peculiar/x509';
import { fromBase64url } from '../../domain/crypto/base64url.ts';

/**
 * The key that signed a certificate of one of Credence's CAs, as its authorityKeyIdentifier names it (lower-case hex),
 * from the DER the event carries; undefined without a DER or without a keyIdentifier (RFC 5280 4.2.1.1 requires one of
 * every certificate a conforming CA issues, and Credence's own issuance always writes it). A CA id is no key: a CA made
 * again under the same id (a compromised key replaced) signs with another, and what its OCSP responder and CRLs answer
 * for are the certificates of its current key only (review 127). The admission step (issued-by-our-ca.ts) checked the
 * signature when the certificate was recorded, so the identifier is that of the key that signed it. Read as path
 * validation reads it (domain/x509/path-validation.ts).
 */
export const issuingKeyId = (der: string | undefined): string | undefined => {
  if (der === undefined) return undefined;
  try {
    const keyId = new x509.X509Certificate(fromBase64url(der)).getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId;
    return keyId === undefined || keyId === '' ? undefined : keyId.toLowerCase();
  } catch {
    // Stored events stay readable as they were written: a DER that does not parse names no key.
    return undefined;
  }
};
