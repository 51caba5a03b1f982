/**
 * Standard padded base64 (RFC 4648 section 4), which the C2SP signed-note and checkpoint formats require; every other
 * byte helper (base64url, constant-time comparison, UTF-8) is domain/crypto's. The decoder is strict: a string that
 * does not re-encode to itself is refused, so one value has exactly one spelling.
 */

import { base64Text, bytesOfBase64Text } from '../crypto/bytes.ts';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export const toBase64 = (bytes: Uint8Array): string => base64Text(bytes);

/** Standard base64; undefined when the text is not canonical base64. */
export const fromBase64 = (text: string): Uint8Array | undefined => {
  if (!BASE64.test(text)) return undefined;
  const bytes = bytesOfBase64Text(text);
  return bytes !== undefined && toBase64(bytes) === text ? bytes : undefined;
};
