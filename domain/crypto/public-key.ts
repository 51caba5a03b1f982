import { p256 } from '@noble/curves/nist.js';
import { littleEndianInteger } from './bytes.ts';
import { ed25519PointOf } from './ed25519-point.ts';
import { subjectPublicKeyInfo, type SpkiKind } from './fingerprint.ts';

/**
 * Whether a public key is one Credence accepts, in the one encoding it accepts it in (review 201). The fingerprint
 * (the SHA-256 of the SubjectPublicKeyInfo) is what says two credentials are one key (SER-010), so a key must have
 * one encoding: the same P-256 point sent compressed (02|03 ‖ X) or hybrid (06|07 ‖ X ‖ Y, which OpenSSL reads as
 * the same key) had a fingerprint of its own and passed keyIsNew and keyNeverCertified. A key in another form is
 * refused, never re-encoded, so the fingerprint a device computed over the bytes it sent stays the one recorded.
 * Every boundary that takes a public key asks this: provisioning's auth (telling the node the rule), isValidSigningPublicKey
 * (receipts), the issueCredential, provisionCredential and CredentialDescriptor refinements (the handshake's and
 * provisioning's messages, the device CLI's files), the request-signing policy, and for agreement keys
 * isValidAgreementPublicKey (the hellos) and sharedSecret.
 */
export const CANONICAL_KEY_RULE = 'canonical_key';
/** A key in its canonical form that is no point of its curve (P-256 off the curve, Ed25519 y with no x). */
export const INVALID_PUBLIC_KEY_RULE = 'invalid_public_key';
/** A point of small order (the identity, say): nothing signed under it verifies, no secret agreed with it is secret. */
export const SMALL_ORDER_KEY_RULE = 'small_order_key';
export type PublicKeyRule = typeof CANONICAL_KEY_RULE | typeof INVALID_PUBLIC_KEY_RULE | typeof SMALL_ORDER_KEY_RULE;

export type PublicKeyCheck =
  | { readonly ok: true; /** The DER SubjectPublicKeyInfo Credence writes and fingerprints. */ readonly spki: Uint8Array }
  | { readonly ok: false; readonly rule: PublicKeyRule; readonly message: string };

const CANONICAL_FORM: Record<SpkiKind, string> = {
  p256: 'a P-256 key as an uncompressed point (04 ‖ X ‖ Y, 65 bytes; SEC 1 §2.3.3), not compressed or hybrid',
  ed25519: 'an Ed25519 key as its 32-byte encoding (RFC 8032 §5.1.2)',
  x25519: 'an X25519 key as its 32-byte u-coordinate, below p and with the top bit clear (RFC 7748 §5)',
};
const P256_NOT_A_POINT = 'not a P-256 public key: the point is not on the curve';
const ED25519_NOT_A_POINT = 'not an Ed25519 public key: no point of the curve has this encoding (RFC 8032 §5.1.3: y below p, and an x for it)';
const ED25519_SMALL_ORDER = 'an Ed25519 point of small order (the identity, say), under which no signature verifies: not a key of a signer';
const X25519_SMALL_ORDER = 'an X25519 u-coordinate of small order, whose shared secret is all zeros whatever the other key (RFC 7748 §6.1)';

const refuse = (rule: PublicKeyRule, message: string): PublicKeyCheck => ({ ok: false, rule, message });

// 2^255 - 19, and the u-coordinates of the points of order 1, 2, 4 and 8 on Curve25519 (as noble's x25519 lists them).
const P25519 = 2n ** 255n - 19n;
const LOW_ORDER_U = new Set<bigint>([
  0n,
  1n,
  P25519 - 1n,
  325606250916557431795983626356110631294008115727848805560023387167927233504n,
  39382357235489614581723060781553021112529911719440698176882885853963445705823n,
]);

const checkP256 = (key: Uint8Array): PublicKeyCheck | undefined => {
  if (key.length !== 65 || key[0] !== 0x04) return refuse(CANONICAL_KEY_RULE, `must be ${CANONICAL_FORM.p256}`);
  // x and y below p, and y² = x³ - 3x + b (SEC 1 §3.2.2.1). P-256 has cofactor 1: its one point of small order is the
  // identity, which has no uncompressed encoding (SEC 1 §2.3.3 writes it 00), so it is refused above.
  return p256.utils.isValidPublicKey(key, false) ? undefined : refuse(INVALID_PUBLIC_KEY_RULE, P256_NOT_A_POINT);
};

const checkEd25519 = (key: Uint8Array): PublicKeyCheck | undefined => {
  if (key.length !== 32) return refuse(CANONICAL_KEY_RULE, `must be ${CANONICAL_FORM.ed25519}`);
  // RFC 8032 decoding refuses y >= p and x = 0 with the sign bit set, the only other encodings of a point: what it
  // accepts has one encoding. Those are named as no key, as the request-signing policy always has.
  const verdict = ed25519PointOf(key);
  if (verdict === 'not_a_point') return refuse(INVALID_PUBLIC_KEY_RULE, ED25519_NOT_A_POINT);
  return verdict === 'small_order' ? refuse(SMALL_ORDER_KEY_RULE, ED25519_SMALL_ORDER) : undefined;
};

const checkX25519 = (key: Uint8Array): PublicKeyCheck | undefined => {
  if (key.length !== 32) return refuse(CANONICAL_KEY_RULE, `must be ${CANONICAL_FORM.x25519}`);
  const u = littleEndianInteger(key);
  // RFC 7748 §5 has receivers mask the top bit and reduce u mod p; Credence's peers never send such a u, and one
  // accepted would give a key two encodings (and a transcript two forms) for one shared secret.
  if (u >= P25519) return refuse(CANONICAL_KEY_RULE, `must be ${CANONICAL_FORM.x25519}`);
  return LOW_ORDER_U.has(u) ? refuse(SMALL_ORDER_KEY_RULE, X25519_SMALL_ORDER) : undefined;
};

const CHECK: Record<SpkiKind, (key: Uint8Array) => PublicKeyCheck | undefined> = { p256: checkP256, ed25519: checkEd25519, x25519: checkX25519 };

/**
 * The one decision on a public key: accepted, with its SubjectPublicKeyInfo, or refused naming the rule it breaks
 * and what it wants. Never throws on the key (bytes from the wire are an expected outcome, not a mistake).
 */
export const checkPublicKey = (kind: SpkiKind, key: Uint8Array): PublicKeyCheck => {
  if (!(key instanceof Uint8Array)) return refuse(CANONICAL_KEY_RULE, `must be ${CANONICAL_FORM[kind]}`);
  return CHECK[kind](key) ?? { ok: true, spki: subjectPublicKeyInfo(kind, key) };
};
