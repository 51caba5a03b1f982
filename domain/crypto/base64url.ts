import { z } from 'zod';
import { assertBytes } from './bytes.ts';

/**
 * Bytes cross JSON boundaries as unpadded base64url (RFC 4648 §5). Decoding is strict: only the canonical
 * encoding of a byte string is accepted, so a flipped padding bit is an error rather than the same bytes, and
 * every encoded field has exactly one spelling (transcripts hash the spelling).
 */

const ALPHABET = /^[A-Za-z0-9_-]*$/;

export const toBase64url = (bytes: Uint8Array): string => Buffer.from(assertBytes(bytes, 'bytes')).toString('base64url');

/** Returns undefined for anything that is not the canonical unpadded base64url of some byte string. */
export const tryFromBase64url = (text: string): Uint8Array<ArrayBuffer> | undefined => {
  if (typeof text !== 'string' || !ALPHABET.test(text) || text.length % 4 === 1) return undefined;
  const bytes = new Uint8Array(Buffer.from(text, 'base64url'));
  return toBase64url(bytes) === text ? bytes : undefined;
};

export const fromBase64url = (text: string, name = 'text'): Uint8Array<ArrayBuffer> => {
  const bytes = tryFromBase64url(text);
  if (bytes === undefined) throw new TypeError(`${name} must be canonical unpadded base64url`);
  return bytes;
};

/** A base64url string field, optionally of an exact decoded length (kept as a string: transcripts hash it). */
export const base64urlString = (byteLength?: number) =>
  z.string().superRefine((text, ctx) => {
    const bytes = tryFromBase64url(text);
    if (bytes === undefined) ctx.addIssue({ code: 'custom', message: 'must be canonical unpadded base64url' });
    else if (byteLength !== undefined && bytes.length !== byteLength) {
      ctx.addIssue({ code: 'custom', message: `must encode ${byteLength} bytes, got ${bytes.length}` });
    }
  });

/** Codec: base64url text on the wire <-> bytes in memory. */
export const Base64urlBytes = z.codec(base64urlString(), z.instanceof(Uint8Array), {
  decode: (text) => fromBase64url(text),
  encode: (bytes) => toBase64url(bytes),
});
