import { bytesToHex } from '@noble/hashes/utils.js';

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

export const toHex = (bytes: Uint8Array): string => bytesToHex(bytes);

/** The unsigned integer whose little-endian bytes these are (RFC 7748 and RFC 8032 encode field elements so). */
export const littleEndianInteger = (bytes: Uint8Array): bigint => (bytes.length === 0 ? 0n : BigInt(`0x${bytesToHex(bytes.slice().reverse())}`));

/**
 * Node's Buffer when the code runs on Node (fast), else the web platform's btoa / atob: the web console (issue 14)
 * verifies evidence bundles in the browser with this domain code, and a browser has no Buffer.
 */
interface NodeBufferLike {
  from(data: Uint8Array | string, encoding?: string): Uint8Array & { toString(encoding: string): string };
}
const NodeBuffer = (globalThis as { Buffer?: NodeBufferLike }).Buffer;

/** Padded base64 (RFC 4648 section 4), or with `url` unpadded base64url (section 5). */
export const base64Text = (bytes: Uint8Array, url = false): string => {
  if (NodeBuffer !== undefined) return NodeBuffer.from(bytes).toString(url ? 'base64url' : 'base64');
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  const text = btoa(binary);
  return url ? text.replace(/=+$/, '').replaceAll('+', '-').replaceAll('/', '_') : text;
};

/**
 * The bytes of base64 (or with `url` base64url) text, padding optional. Lenient like Buffer: callers that need the one canonical spelling
 * check the alphabet first and re-encode to compare. Undefined where atob refuses the text.
 */
export const bytesOfBase64Text = (text: string, url = false): Uint8Array<ArrayBuffer> | undefined => {
  if (NodeBuffer !== undefined) return new Uint8Array(NodeBuffer.from(text, url ? 'base64url' : 'base64'));
  try {
    const binary = atob(url ? text.replaceAll('-', '+').replaceAll('_', '/') : text);
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  } catch {
    return undefined;
  }
};
