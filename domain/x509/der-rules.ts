/**
 * The Distinguished Encoding Rules (X.690 section 10, and the BER rules it narrows in 8.1) checked over raw bytes:
 * asn1js reads BER, so a value it parsed is not yet known to be DER. One walk over the tag-length-value structure,
 * linear in the input: callers bound the input first (a CSR is at most MAX_CSR_LENGTH).
 *
 * Checked: exactly one value and nothing after it; definite lengths (8.1.3.6 is BER only, 10.1) in the fewest octets
 * (10.1, 8.1.3.5 note); tag numbers in the fewest octets (8.1.2.4.2 c); SEQUENCE and SET constructed; every other
 * universal type primitive (10.2: no constructed strings); BOOLEAN one octet 00 or FF (11.1); INTEGER and ENUMERATED in
 * the fewest octets (8.3.2); NULL empty (8.8.2); BIT STRING with at most 7 unused bits, none without content, and
 * those bits zero (11.2); OBJECT IDENTIFIER subidentifiers in the fewest octets (8.19.2). Not checked: the order of
 * SET OF elements (11.6), omitted DEFAULT values (11.5), and the content of implicitly tagged values, which need the
 * schema.
 */

/** Universal types DER encodes primitive (X.690 10.2; strings, times, and the scalar types). */
const PRIMITIVE: ReadonlySet<number> = new Set([1, 2, 3, 4, 5, 6, 9, 10, 12, 13, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 30]);
const SEQUENCE = 16;
const SET = 17;
/** Far deeper than any certificate or CSR nests; a guard for the recursion, not a limit a real value meets. */
const MAX_DEPTH = 64;

/** Why the content octets of a primitive universal value are not DER, or undefined. */
const contentViolation = (tag: number, c: Uint8Array): string | undefined => {
  switch (tag) {
    case 1:
      return c.length === 1 && (c[0] === 0x00 || c[0] === 0xff) ? undefined : 'BOOLEAN not 00 or FF';
    case 2:
    case 10:
      if (c.length === 0) return 'empty INTEGER';
      return c.length > 1 && ((c[0] === 0x00 && (c[1]! & 0x80) === 0) || (c[0] === 0xff && (c[1]! & 0x80) !== 0)) ? 'INTEGER not in the fewest octets' : undefined;
    case 3: {
      const unused = c[0];
      if (unused === undefined || unused > 7 || (c.length === 1 && unused !== 0)) return 'BIT STRING unused-bits octet out of range';
      return (c[c.length - 1]! & ((1 << unused) - 1)) === 0 ? undefined : 'BIT STRING unused bits not zero';
    }
    case 5:
      return c.length === 0 ? undefined : 'NULL with content';
    case 6:
    case 13:
      if (c.length === 0 || (c[c.length - 1]! & 0x80) !== 0) return 'OBJECT IDENTIFIER truncated';
      return c.some((b, i) => b === 0x80 && (i === 0 || (c[i - 1]! & 0x80) === 0)) ? 'OBJECT IDENTIFIER not in the fewest octets' : undefined;
    default:
      return undefined;
  }
};

/** Walks the values in bytes[from, to); returns why they are not DER, or undefined. */
const walk = (bytes: Uint8Array, from: number, to: number, depth: number): string | undefined => {
  if (depth > MAX_DEPTH) return 'nested too deeply';
  let at = from;
  while (at < to) {
    const first = bytes[at++]!;
    const tagClass = first >> 6;
    const constructed = (first & 0x20) !== 0;
    let tag = first & 0x1f;
    if (tag === 0x1f) {
      if (at >= to || bytes[at] === 0x80) return 'tag number not in the fewest octets';
      tag = 0;
      do {
        if (at >= to || tag > 0xffffff) return 'tag number too long';
        tag = tag * 128 + (bytes[at]! & 0x7f);
      } while ((bytes[at++]! & 0x80) !== 0);
      if (tag < 0x1f) return 'tag number not in the fewest octets';
    }
    if (at >= to) return 'truncated';
    const lengthOctet = bytes[at++]!;
    let length = lengthOctet;
    if (lengthOctet === 0x80) return 'indefinite length';
    if (lengthOctet > 0x80) {
      const count = lengthOctet & 0x7f;
      if (count > 4 || at + count > to) return 'length truncated or too long';
      if (bytes[at] === 0) return 'length not in the fewest octets';
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + bytes[at++]!;
      if (length < 0x80) return 'length not in the fewest octets';
    }
    if (length > to - at) return 'truncated';
    if (tagClass === 0) {
      if ((tag === SEQUENCE || tag === SET) && !constructed) return 'primitive SEQUENCE or SET';
      if (PRIMITIVE.has(tag) && constructed) return 'constructed encoding of a primitive type';
    }
    const why = constructed ? walk(bytes, at, at + length, depth + 1) : tagClass === 0 ? contentViolation(tag, bytes.subarray(at, at + length)) : undefined;
    if (why !== undefined) return why;
    at += length;
  }
  return undefined;
};

/** Why `bytes` is not exactly one DER value (a short fixed phrase, never the input), or undefined when it is. */
export const derViolation = (bytes: Uint8Array): string | undefined => {
  if (bytes.length === 0) return 'empty';
  const why = walk(bytes, 0, bytes.length, 0);
  if (why !== undefined) return why;
  // One value: the walk above accepts a concatenation, so find where the first one ends.
  return oneValueLength(bytes) === bytes.length ? undefined : 'more than one value';
};

/** The byte length of the first value in `bytes` (whose encoding the walk found sound). */
const oneValueLength = (bytes: Uint8Array): number => {
  let at = 1;
  if ((bytes[0]! & 0x1f) === 0x1f) while ((bytes[at++]! & 0x80) !== 0);
  const lengthOctet = bytes[at++]!;
  if (lengthOctet < 0x80) return at + lengthOctet;
  let length = 0;
  for (let i = 0; i < (lengthOctet & 0x7f); i++) length = length * 256 + bytes[at++]!;
  return at + length;
};
