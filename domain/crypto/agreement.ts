import { x25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { assertBytes, wipe } from './bytes.ts';
import { checkPublicKey } from './public-key.ts';
import type { RandomSource } from '../ports/random.ts';
import type { KeyPair } from './signatures.ts';

/**
 * Ephemeral-static and ephemeral-ephemeral Diffie-Hellman: X25519 (RFC 7748) and ECDH over P-256 (SEC 1 §3.3.1,
 * the curve of common device secure elements). The shared secret is raw input for HKDF, never a key by itself.
 */
export type AgreementGroup = 'x25519' | 'p256';

export const agreementPublicKeyLength = (group: AgreementGroup): number => (group === 'x25519' ? 32 : 65);

export const generateAgreementKey = (group: AgreementGroup, random: RandomSource): KeyPair => {
  if (group === 'x25519') {
    const secretKey = assertBytes(random(32), 'random(32)', 32);
    return { secretKey, publicKey: x25519.getPublicKey(secretKey) };
  }
  const seed = assertBytes(random(48), 'random(48)', 48);
  const secretKey = p256.utils.randomSecretKey(seed);
  wipe(seed);
  return { secretKey, publicKey: p256.getPublicKey(secretKey, false) };
};

export const agreementPublicKey = (group: AgreementGroup, secretKey: Uint8Array): Uint8Array => {
  assertBytes(secretKey, 'secretKey', 32);
  return group === 'x25519' ? x25519.getPublicKey(secretKey) : p256.getPublicKey(secretKey, false);
};

/**
 * Whether a peer key may reach an ECDH at all: checkPublicKey's decision for either group, the one sharedSecret takes
 * too. P-256: a point on the curve in its one encoding, uncompressed, checked before any token or ladder sees it (the
 * invalid-curve attack). X25519: 32 bytes, u below p with the top bit clear, not of small order. Review 207: X25519
 * was checked for its length only, so a hello offering u = 0 got a challenge and a run's keys, and was refused only
 * after the proof; the protocols ask this at the hello (assertNewHello), for a real and a decoy run alike.
 */
export const isValidAgreementPublicKey = (group: AgreementGroup, publicKey: Uint8Array): boolean =>
  checkPublicKey(group, publicKey).ok;

/**
 * 32-byte shared secret, or undefined when the peer key is not acceptable (checkPublicKey: an off-curve or
 * non-uncompressed P-256 point; an X25519 u of small order, giving the all-zero output RFC 7748 §6.1 says to reject,
 * or u not below p, a second encoding of a key Credence's peers never send).
 */
export const sharedSecret = (group: AgreementGroup, secretKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array | undefined => {
  assertBytes(secretKey, 'secretKey', 32);
  if (!(peerPublicKey instanceof Uint8Array) || !checkPublicKey(group, peerPublicKey).ok) return undefined;
  try {
    if (group === 'x25519') return x25519.getSharedSecret(secretKey, peerPublicKey);
    const point = p256.getSharedSecret(secretKey, peerPublicKey, true);
    const x = point.slice(1); // SEC 1 §3.3.1: the shared secret is the x-coordinate
    wipe(point);
    return x;
  } catch {
    return undefined;
  }
};
