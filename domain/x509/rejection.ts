import { CredenceError } from '../errors.ts';

/**
 * Why a manufacturer (IDevID) certificate chain was refused. Stable codes: one per RFC 5280 section 6.1 rule
 * (or profile rule of section 4) this engine enforces, so operators and tests can tell the rules apart.
 */
export type CertificateRejection =
  | 'malformed_certificate'
  | 'unknown_trust_anchor'
  | 'certificate_expired'
  | 'certificate_not_yet_valid'
  | 'bad_certificate_signature'
  | 'issuer_not_ca'
  | 'unsupported_key'
  /** No path within the depth limit (too many certificates presented, or the only paths are too long). */
  | 'path_too_long'
  /** An issuer's name matched only as text, not as the encoded Name (RFC 5280 4.1.2.4, 7.1). */
  | 'issuer_name_mismatch'
  /** A CA's pathLenConstraint is exceeded (6.1.4 (l), (m)). */
  | 'path_length_exceeded'
  /** An intermediate CA without a critical basicConstraints extension (4.2.1.9). */
  | 'basic_constraints_not_critical'
  /** The leaf is a CA certificate (cA=true or keyCertSign) (4.2.1.9, 4.2.1.3). */
  | 'leaf_is_ca'
  /** The leaf's keyUsage does not allow digitalSignature (4.2.1.3). */
  | 'leaf_key_usage'
  /** The leaf's extendedKeyUsage allows neither clientAuth nor anyExtendedKeyUsage (4.2.1.12). */
  | 'leaf_extended_key_usage'
  /** A critical extension this engine does not process, on any certificate including anchors (6.1.3, 6.1.4 (o)). */
  | 'unknown_critical_extension'
  /** A subject outside the permitted or inside the excluded subtrees (6.1.3 (b), (c)). */
  | 'name_constraints_violated'
  /** The valid policy set is empty where policy constraints require an explicit policy (6.1.5 (g)). */
  | 'policy_constraints_violated'
  /** tbsCertificate.signature differs from signatureAlgorithm (4.1.1.2). */
  | 'signature_algorithm_mismatch'
  /** An issuer key below the minimum strength (RSA < 2048 bits, an elliptic curve other than P-256/384/521). */
  | 'weak_issuer_key'
  /** A serial number not positive or longer than 20 octets (4.1.2.2). */
  | 'bad_serial_number'
  /** Not a version 3 certificate (4.1.2.1). */
  | 'bad_version'
  /** The same extension twice in one certificate (4.2). */
  | 'duplicate_extension'
  /** The authority key identifier does not name the issuer's subject key identifier (4.2.1.1). */
  | 'key_identifier_mismatch'
  /** A CA without subjectKeyIdentifier, or an issued certificate without authorityKeyIdentifier (4.2.1.1, 4.2.1.2). */
  | 'missing_key_identifier'
  /** The factory certificate certifies another key than the device's bootstrap key. */
  | 'certified_key_mismatch'
  /** Any other refusal by the path-validation engine. */
  | 'path_validation_failed';

/** Failed chain checks are `bad_signature` problems (the credential did not verify) with a stable reason. */
export const certificateRejected = (reason: CertificateRejection, subject: string): CredenceError =>
  new CredenceError({ code: 'bad_signature', reason, message: `certificate chain rejected: ${reason} (${subject})` });
