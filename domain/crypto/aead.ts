import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { assertBytes, concatBytes } from './bytes.ts';
import type { RandomSource } from '../ports/random.ts';

/**
 * XChaCha20-Poly1305: its 192-bit nonce can be drawn at random for every message without a counter to
 * persist, which suits a key store that seals each key independently.
 */
export const AEAD_KEY_LENGTH = 32;
export const AEAD_NONCE_LENGTH = 24;
export const AEAD_TAG_LENGTH = 16;

/** Returns nonce || ciphertext || tag. */
export const aeadSeal = (key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, random: RandomSource): Uint8Array => {
  assertBytes(key, 'key', AEAD_KEY_LENGTH);
  const nonce = assertBytes(random(AEAD_NONCE_LENGTH), 'random(24)', AEAD_NONCE_LENGTH);
  const ciphertext = xchacha20poly1305(key, nonce, assertBytes(aad, 'aad')).encrypt(assertBytes(plaintext, 'plaintext'));
  return concatBytes(nonce, ciphertext);
};

/** Undefined when the box was altered, the AAD differs or the key is wrong: an expected outcome, not a throw. */
export const aeadOpen = (key: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | undefined => {
  assertBytes(key, 'key', AEAD_KEY_LENGTH);
  assertBytes(sealed, 'sealed');
  assertBytes(aad, 'aad');
  if (sealed.length < AEAD_NONCE_LENGTH + AEAD_TAG_LENGTH) return undefined;
  try {
    return xchacha20poly1305(key, sealed.subarray(0, AEAD_NONCE_LENGTH), aad).decrypt(sealed.subarray(AEAD_NONCE_LENGTH));
  } catch {
    return undefined;
  }
};
