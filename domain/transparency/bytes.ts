/**
 * Byte helpers for the transparency log. Bytes cross JSON boundaries as base64url (project rule); the signed
 * note and checkpoint formats use standard padded base64 (RFC 4648 section 4, as C2SP requires). Decoders are
 * strict: a string that does not re-encode to itself is refused, so one value has exactly one spelling.
 */

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

export const toBase64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
export const toBase64Url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

/** Standard base64; undefined when the text is not canonical base64. */
export const fromBase64 = (text: string): Uint8Array | undefined => {
  if (!BASE64.test(text)) return undefined;
  const bytes = new Uint8Array(Buffer.from(text, 'base64'));
  return toBase64(bytes) === text ? bytes : undefined;
};

/** Unpadded base64url; undefined when the text is not canonical base64url. */
export const fromBase64Url = (text: string): Uint8Array | undefined => {
  if (!BASE64URL.test(text) || text.length % 4 === 1) return undefined;
  const bytes = new Uint8Array(Buffer.from(text, 'base64url'));
  return toBase64Url(bytes) === text ? bytes : undefined;
};

export const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Constant-time in the contents (length is public): hashes and signatures are compared with it. */
export const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
};
