import { ed25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { assertBytes, wipe } from './bytes.ts';
import { checkPublicKey } from './public-key.ts';
import type { RandomSource } from '../ports/random.ts';

/**
 * Signatures: Ed25519 (RFC 8032, pure, no prehash) and ECDSA over P-256 with SHA-256 (FIPS 186-5), deterministic
 * nonces (RFC 6979) and low-S normalisation on both sign and verify so a signature has one valid form and cannot
 * be mutated into a second one that also verifies (a replay cache keyed on bytes would miss it).
 * Public keys: Ed25519 32 bytes; P-256 uncompressed SEC1, 65 bytes (one canonical form for fingerprints).
 */
export type SignatureKind = 'ed25519' | 'p256';

export const SIGNATURE_LENGTH = 64;
export const SECRET_KEY_LENGTH = 32;
export const publicKeyLength = (kind: SignatureKind): number => (kind === 'ed25519' ? 32 : 65);

export interface KeyPair {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

export const generateSigningKey = (kind: SignatureKind, random: RandomSource): KeyPair => {
  if (kind === 'ed25519') {
    const seed = assertBytes(random(32), 'random(32)', 32);
    return { secretKey: seed, publicKey: ed25519.getPublicKey(seed) };
  }
  // 48 seed bytes reduced mod n (FIPS 186-5 A.2.1) keep the scalar's bias negligible.
  const seed = assertBytes(random(48), 'random(48)', 48);
  const secretKey = p256.utils.randomSecretKey(seed);
  wipe(seed);
  return { secretKey, publicKey: p256.getPublicKey(secretKey, false) };
};

export const signingPublicKey = (kind: SignatureKind, secretKey: Uint8Array): Uint8Array => {
  assertBytes(secretKey, 'secretKey', SECRET_KEY_LENGTH);
  return kind === 'ed25519' ? ed25519.getPublicKey(secretKey) : p256.getPublicKey(secretKey, false);
};

export const sign = (kind: SignatureKind, secretKey: Uint8Array, message: Uint8Array): Uint8Array => {
  assertBytes(secretKey, 'secretKey', SECRET_KEY_LENGTH);
  assertBytes(message, 'message');
  return kind === 'ed25519'
    ? ed25519.sign(message, secretKey)
    : p256.sign(message, secretKey, { prehash: true, lowS: true, format: 'compact' });
};

/**
 * A key a signer may hold, in its one encoding (public-key.ts): a point of its curve, not of small order (an Ed25519
 * one verifies nothing under strict verification, zip215 off), P-256 uncompressed only. The rule it breaks, for a
 * refusal that names it, is checkPublicKey's.
 */
export const isValidSigningPublicKey = (kind: SignatureKind, publicKey: Uint8Array): boolean => checkPublicKey(kind, publicKey).ok;

/** The order n of P-256's base point (FIPS 186-5, SEC 2 2.4.2): a low-S signature has s <= n / 2. */
const P256_N = p256.Point.CURVE().n;

/**
 * How a P-256 signature value is written, before it is verified, so a refusal can say how to send it (review 387):
 * `r_s` the 64-byte r||s form (IEEE P1363) with a low S, the one form verifySignature accepts; `high_s` that form with
 * n / 2 < s < n, which standard signers (OpenSSL, Node's crypto.sign, Go, Java, WebCrypto) give one time in two, as
 * they do not normalise S; `der` an ASN.1 DER SEQUENCE (X9.62), their default encoding; `other` anything else, which
 * does not verify. A 64-byte value is read as r||s even when it starts 0x30: DER of that length cannot be told apart.
 */
export type P256SignatureForm = 'r_s' | 'high_s' | 'der' | 'other';

export const p256SignatureForm = (signature: Uint8Array): P256SignatureForm => {
  if (signature.length === SIGNATURE_LENGTH) {
    let s = 0n;
    for (const byte of signature.subarray(32)) s = (s << 8n) | BigInt(byte);
    return s > P256_N / 2n && s < P256_N ? 'high_s' : 'r_s';
  }
  // SEQUENCE tag, then a short-form length covering the rest (a P-256 one is at most 72 bytes).
  return signature.length > 2 && signature[0] === 0x30 && signature[1] === signature.length - 2 ? 'der' : 'other';
};

/**
 * False for any signature that does not verify, including malformed keys or signatures from the wire: a
 * failed verification is an expected outcome, never a throw.
 */
export const verifySignature = (
  kind: SignatureKind,
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean => {
  assertBytes(message, 'message');
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_LENGTH) return false;
  // Point decoding (and its rejection of invalid keys) happens inside verify; decoding twice costs a square root.
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== publicKeyLength(kind)) return false;
  try {
    return kind === 'ed25519'
      ? ed25519.verify(signature, message, publicKey, { zip215: false })
      : p256.verify(signature, message, publicKey, { prehash: true, lowS: true, format: 'compact' });
  } catch {
    return false;
  }
};
