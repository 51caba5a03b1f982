import { hexToBytes } from '@noble/hashes/utils.js';
import { z } from 'zod';
import { assertBytes, concatBytes, toHex, utf8 } from './bytes.ts';
import { hmacSha256, sha256 } from './hash.ts';

/**
 * Fingerprints are rendered `sha256:<64 lowercase hex>`.
 * - Public keys: SHA-256 of the DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7; RFC 8410 for Ed25519/X25519), the
 *   same value `openssl pkey -pubin -outform DER | sha256sum` prints, so an operator can check it by hand.
 * - Certificates: SHA-256 of the DER certificate (the usual certificate thumbprint).
 * - Symmetric keys (PSKs, session keys): HMAC-SHA256 keyed by the secret over a domain-separation label, never
 *   the bare hash of the key: the value identifies the key, is useless for any other purpose, and cannot be
 *   matched against a hash of the same key computed anywhere else.
 */
export type SpkiKind = 'ed25519' | 'x25519' | 'p256';

const SPKI_PREFIX: Record<SpkiKind, Uint8Array> = {
  // SEQUENCE { SEQUENCE { OID 1.3.101.112 } BIT STRING (32 bytes) }
  ed25519: hexToBytes('302a300506032b6570032100'),
  // SEQUENCE { SEQUENCE { OID 1.3.101.110 } BIT STRING (32 bytes) }
  x25519: hexToBytes('302a300506032b656e032100'),
  // SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 } BIT STRING (65-byte uncompressed point) }
  p256: hexToBytes('3059301306072a8648ce3d020106082a8648ce3d030107034200'),
};
const RAW_LENGTH: Record<SpkiKind, number> = { ed25519: 32, x25519: 32, p256: 65 };

export const FINGERPRINT_PATTERN = /^sha256:[0-9a-f]{64}$/;
/** `sha256:` and 64 hex digits: 71 characters. */
export const Fingerprint = z.string().max(71).regex(FINGERPRINT_PATTERN, 'must be sha256:<64 lowercase hex>');

const render = (digest: Uint8Array): string => `sha256:${toHex(digest)}`;

export const subjectPublicKeyInfo = (kind: SpkiKind, publicKey: Uint8Array): Uint8Array =>
  concatBytes(SPKI_PREFIX[kind], assertBytes(publicKey, 'publicKey', RAW_LENGTH[kind]));

/** The raw key inside a DER SubjectPublicKeyInfo, or undefined when it is not one of the supported encodings. */
export const publicKeyFromSpki = (spki: Uint8Array): { kind: SpkiKind; publicKey: Uint8Array } | undefined => {
  for (const kind of Object.keys(SPKI_PREFIX) as SpkiKind[]) {
    const prefix = SPKI_PREFIX[kind];
    if (spki.length === prefix.length + RAW_LENGTH[kind] && prefix.every((b, i) => spki[i] === b)) {
      return { kind, publicKey: spki.slice(prefix.length) };
    }
  }
  return undefined;
};

export const publicKeyFingerprint = (kind: SpkiKind, publicKey: Uint8Array): string =>
  render(sha256(subjectPublicKeyInfo(kind, publicKey)));

export const certificateFingerprint = (der: Uint8Array): string => render(sha256(assertBytes(der, 'der')));

const SECRET_FINGERPRINT_LABEL = utf8('credence/v1/secret-key-fingerprint');

export const secretKeyFingerprint = (secret: Uint8Array): string =>
  render(hmacSha256(assertBytes(secret, 'secret', 32), SECRET_FINGERPRINT_LABEL));
