/**
 * The largest byte fields Credence accepts anywhere (commands, events, protocol messages, configuration), so nothing
 * unbounded is accepted or stored (SER-001, issue 10 item 5). Fixed sizes come from the algorithms; the others are
 * ceilings far above what any real value needs. No imports: event schemas use these without loading any crypto.
 */

/** SHA-256: transcript hashes, Merkle hashes. */
export const HASH_LENGTH = 32;

/** The longest public key: P-256 uncompressed SEC1 (Ed25519 and X25519 keys are 32 bytes). */
export const MAX_PUBLIC_KEY_LENGTH = 65;

/**
 * A proof is an Ed25519 or compact P-256 signature (64 bytes, SIGNATURE_LENGTH in signatures.ts) or an HMAC-SHA256
 * tag (32 bytes).
 */
export const MAX_PROOF_LENGTH = 64;

/**
 * One DER X.509 certificate. Device (IDevID) and CA certificates with ECDSA or Ed25519 keys are well under 2 KiB; an
 * RSA-4096 certificate with many extensions stays under 8 KiB.
 */
export const MAX_CERTIFICATE_LENGTH = 16 * 1024;

/**
 * One DER PKCS#10 CSR sent in remote provisioning (issue 13): an Ed25519 or P-256 request naming one node is under
 * 600 bytes; the ceiling leaves room for longer names while bounding what a node can make the Enrolment Function
 * parse (SER-001).
 */
export const MAX_CSR_LENGTH = 4 * 1024;

/** Certificates in a presented chain: leaf and intermediates (the root is configured, not sent). */
export const MAX_CERTIFICATE_CHAIN = 4;

/** Configured trust anchors (manufacturer roots): a fleet's vendors, with room for their key rollovers. */
export const MAX_TRUST_ANCHORS = 64;

/**
 * A 32-byte key wrapped by a Secure Environment: the embedded one adds a 24-byte nonce and a 16-byte tag (72 bytes);
 * the ceiling leaves room for other Secure Environments' wrapping formats.
 */
export const MAX_WRAPPED_KEY_LENGTH = 256;
