/**
 * derViolation (domain/x509/der-rules.ts): DER accepted, and each BER-only encoding X.690 section 10 forbids refused,
 * with a fixed phrase that never quotes the input. Used by the CSR check (adversarial review, D7).
 */
import { describe, expect, it } from 'vitest';
import { derViolation } from '../domain/x509/der-rules.ts';
import { handMadeCsr } from './pki-csr-hand-made.ts';

/** `depth` SEQUENCEs, each inside the next, in DER. */
const nested = (depth: number): Uint8Array => {
  let value: number[] = [];
  for (let i = 0; i < depth; i++) value = [0x30, ...(value.length < 0x80 ? [value.length] : [0x81, value.length]), ...value];
  return Uint8Array.from(value);
};
const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s/g, ''), 'hex'));

describe('derViolation', () => {
  it.each([
    ['a hand-made CSR', handMadeCsr({})],
    ['SEQUENCE { INTEGER 0, INTEGER 128, INTEGER -1, BOOLEAN TRUE, NULL }', hex('300f 020100 02020080 0201ff 0101ff 0500')],
    ['a BIT STRING with 3 unused bits, all zero', hex('0302 03 f8')],
    ['an OID with a multi-octet arc', hex('0606 2a864886f70d')],
    ['a 128-octet OCTET STRING (long-form length)', Uint8Array.from([0x04, 0x81, 0x80, ...new Uint8Array(128)])],
    ['a high tag number in the fewest octets', hex('9f1f00')],
    ['64 SEQUENCEs, each inside the next', nested(64)],
  ])('accepts %s', (_what, bytes) => {
    expect(derViolation(bytes)).toBeUndefined();
  });

  it.each([
    ['nothing', hex(''), 'empty'],
    ['two values', hex('0500 0500'), 'more than one value'],
    ['a truncated value', hex('3005 0500'), 'truncated'],
    ['an indefinite length', hex('3080 0500 0000'), 'indefinite length'],
    ['a long-form length under 128', hex('3081 02 0500'), 'length not in the fewest octets'],
    ['a length with a leading zero octet', hex('308200 02 0500'), 'length not in the fewest octets'],
    ['a constructed OCTET STRING', hex('2403 040100'), 'constructed encoding of a primitive type'],
    ['a primitive SEQUENCE', hex('1000'), 'primitive SEQUENCE or SET'],
    ['BOOLEAN 01', hex('010101'), 'BOOLEAN not 00 or FF'],
    ['INTEGER with a leading 00', hex('02020001'), 'INTEGER not in the fewest octets'],
    ['INTEGER with a leading FF', hex('0202ff80'), 'INTEGER not in the fewest octets'],
    ['an empty INTEGER', hex('0200'), 'empty INTEGER'],
    ['NULL with content', hex('050100'), 'NULL with content'],
    ['a BIT STRING whose unused bits are not zero', hex('0302 03 f9'), 'BIT STRING unused bits not zero'],
    ['a BIT STRING with 8 unused bits', hex('0302 08 00'), 'BIT STRING unused-bits octet out of range'],
    ['an OID arc with a leading 80', hex('0603 2a8001'), 'OBJECT IDENTIFIER not in the fewest octets'],
    ['a high tag number below 31', hex('9f0100'), 'tag number not in the fewest octets'],
    ['a high tag number with a leading 80', hex('9f801f00'), 'tag number not in the fewest octets'],
    ['nesting past the guard (70 SEQUENCEs)', nested(70), 'nested too deeply'],
  ])('refuses %s: %s', (_what, bytes, why) => {
    expect(derViolation(bytes)).toBe(why);
  });
});
