/**
 * Byte helpers shared by every cryptographic call site: length checks that name the argument (a caller's
 * mistake is a plain error, noble-style), constant-time comparison, and wiping of secret buffers.
 */

export const assertBytes = (value: unknown, name: string, length?: number): Uint8Array => {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
  if (length !== undefined && value.length !== length) {
    throw new RangeError(`${name} must be ${length} bytes, got ${value.length}`);
  }
  return value;
};

/**
 * Compares in time that depends only on the lengths (which are public: every tag and key here has a fixed
 * size), so a verifier leaks nothing about how many leading bytes of a MAC matched.
 */
export const constantTimeEqual = (a: Uint8Array, b: Uint8Array): boolean => {
  assertBytes(a, 'a');
  assertBytes(b, 'b');
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
};

/** Overwrites secret buffers once they are no longer needed (best effort: the engine may hold copies). */
export const wipe = (...buffers: readonly (Uint8Array | undefined)[]): void => {
  for (const buffer of buffers) buffer?.fill(0);
};

export const concatBytes = (...parts: readonly Uint8Array[]): Uint8Array => {
  let length = 0;
  for (const part of parts) length += assertBytes(part, 'part').length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
};

const encoder = new TextEncoder();
export const utf8 = (text: string): Uint8Array => encoder.encode(text);

/** 4-byte big-endian length prefix, so concatenated fields cannot be re-split differently. */
export const lengthPrefixed = (bytes: Uint8Array): Uint8Array => {
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, 4);
  return out;
};

export const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
