import { z } from 'zod';
import { assertBytes, base64Text, bytesOfBase64Text } from './bytes.ts';

/**
 * Bytes cross JSON boundaries as unpadded base64url (RFC 4648 §5). Decoding is strict: only the canonical
 * encoding of a byte string is accepted, so a flipped padding bit is an error rather than the same bytes, and
 * every encoded field has exactly one spelling (transcripts hash the spelling).
 */

const ALPHABET = /^[A-Za-z0-9_-]*$/;

export const toBase64url = (bytes: Uint8Array): string => base64Text(assertBytes(bytes, 'bytes'), true);

/** Returns undefined for anything that is not the canonical unpadded base64url of some byte string. */
export const tryFromBase64url = (text: string): Uint8Array<ArrayBuffer> | undefined => {
  if (typeof text !== 'string' || !ALPHABET.test(text) || text.length % 4 === 1) return undefined;
  const bytes = bytesOfBase64Text(text, true);
  return bytes !== undefined && toBase64url(bytes) === text ? bytes : undefined;
};

export const fromBase64url = (text: string, name = 'text'): Uint8Array<ArrayBuffer> => {
  const bytes = tryFromBase64url(text);
  if (bytes === undefined) throw new TypeError(`${name} must be canonical unpadded base64url`);
  return bytes;
};

/** Length of the unpadded base64url encoding of `bytes` bytes. */
export const base64urlLength = (bytes: number): number => Math.ceil((bytes * 4) / 3);

/**
 * The bytes of `text` when it is the canonical base64url of exactly `byteLength` bytes, else undefined. Anything of
 * another length is refused before it is decoded, so a refinement can call it on a field that already failed.
 */
export const tryFromBase64urlOfLength = (text: unknown, byteLength: number): Uint8Array<ArrayBuffer> | undefined =>
  typeof text === 'string' && text.length === base64urlLength(byteLength) ? tryFromBase64url(text) : undefined;

/** The decoded size of a base64url field: exactly `n` bytes, or at most `max` bytes. */
export type ByteLength = number | { readonly max: number };

/**
 * A base64url string field of an exact decoded length or at most a maximum (kept as a string: transcripts hash it).
 * Every field has a bound (SER-001): text longer than the bound allows is refused on its length, never decoded.
 */
export const base64urlString = (length: ByteLength) => {
  const exact = typeof length === 'number' ? length : undefined;
  const maxBytes = typeof length === 'number' ? length : length.max;
  const maxChars = base64urlLength(maxBytes);
  return z
    .string()
    .max(maxChars, exact !== undefined ? `must encode ${exact} bytes` : `must encode at most ${maxBytes} bytes (${maxChars} base64url characters)`)
    .superRefine((text, ctx) => {
      if (text.length > maxChars) return; // refused by the maximum above; not worth decoding
      const bytes = tryFromBase64url(text);
      if (bytes === undefined) ctx.addIssue({ code: 'custom', message: 'must be canonical unpadded base64url' });
      else if (exact !== undefined && bytes.length !== exact) {
        ctx.addIssue({ code: 'custom', message: `must encode ${exact} bytes, got ${bytes.length}` });
      }
    });
};

/** The largest byte string the generic codec carries; fields with a meaning have their own bound. */
const MAX_CODEC_BYTES = 64 * 1024;

/** Codec: base64url text on the wire <-> bytes in memory. */
export const Base64urlBytes = z.codec(base64urlString({ max: MAX_CODEC_BYTES }), z.instanceof(Uint8Array), {
  decode: (text) => fromBase64url(text),
  encode: (bytes) => toBase64url(bytes),
});
