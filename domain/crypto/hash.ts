import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { assertBytes } from './bytes.ts';

export const sha256 = (message: Uint8Array): Uint8Array => nobleSha256(assertBytes(message, 'message'));

/** HMAC-SHA256 (RFC 2104). */
export const hmacSha256 = (key: Uint8Array, message: Uint8Array): Uint8Array =>
  hmac(nobleSha256, assertBytes(key, 'key'), assertBytes(message, 'message'));

/**
 * HMAC-SHA256 (RFC 2104) of each message under one key: the padded key is hashed once (RFC 2104 section 4 notes
 * the inner and outer pads' first blocks can be precomputed) and every tag starts from that keyed state, which
 * is wiped before returning. Equal to `hmacSha256(key, m)` for each message.
 */
export const hmacSha256Many = (key: Uint8Array, messages: readonly Uint8Array[]): Uint8Array[] => {
  const keyed = hmac.create(nobleSha256, assertBytes(key, 'key'));
  const work = keyed.clone();
  try {
    return messages.map((message, i) => {
      keyed._cloneInto(work);
      const tag = new Uint8Array(32);
      work.update(assertBytes(message, `messages[${i}]`)).digestInto(tag);
      return tag;
    });
  } finally {
    keyed.destroy();
    work.destroy();
  }
};

/** HKDF-SHA256 extract-then-expand (RFC 5869 §2). */
export const hkdfSha256 = (ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array => {
  if (!Number.isInteger(length) || length < 1 || length > 255 * 32) throw new RangeError('length out of range');
  return hkdf(nobleSha256, assertBytes(ikm, 'ikm'), assertBytes(salt, 'salt'), assertBytes(info, 'info'), length);
};
