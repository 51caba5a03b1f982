/**
 * The Ed25519 key check decides without decoding the point (a Jacobi symbol and the small-order y-coordinates, for
 * speed on every issueCredential): its verdict must be the curve library's own, RFC 8032 decoding with zip215 off
 * and `isSmallOrder()`, for every 32 bytes, and the refusals checkPublicKey names must follow from it.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { littleEndianInteger } from '../domain/crypto/bytes.ts';
import { ed25519PointOf, type Ed25519PointVerdict } from '../domain/crypto/ed25519-point.ts';
import { checkPublicKey } from '../domain/crypto/public-key.ts';

const P = 2n ** 255n - 19n;

const byTheLibrary = (key: Uint8Array): Ed25519PointVerdict => {
  let point;
  try {
    point = ed25519.Point.fromBytes(key, false);
  } catch {
    return 'not_a_point';
  }
  return point.isSmallOrder() ? 'small_order' : 'point';
};

/** The 32 little-endian bytes of y, with the sign bit of x on top. */
const encode = (y: bigint, xOdd: boolean): Uint8Array => {
  const bytes = new Uint8Array(32);
  let n = y;
  for (let i = 0; i < 32; i++, n >>= 8n) bytes[i] = Number(n & 0xffn);
  if (xOdd) bytes[31]! |= 0x80;
  return bytes;
};

/** The multiples of a point of order 8 (libsodium's first small-order encoding): eight distinct points, all of order dividing 8. */
const torsion = (): Uint8Array[] => {
  const order8 = ed25519.Point.fromHex('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05');
  return Array.from({ length: 8 }, (_, k) => (k === 0 ? ed25519.Point.ZERO : order8.multiplyUnsafe(BigInt(k))).toBytes());
};

describe('an Ed25519 key is judged a point as the curve library decodes it', () => {
  it('agrees with RFC 8032 decoding on random bytes, on keys of real signers and on encodings near p', () => {
    const nearP = fc.tuple(fc.bigInt({ min: P - 40n, max: 2n ** 255n - 1n }), fc.boolean()).map(([y, odd]) => encode(y, odd));
    const smallY = fc.tuple(fc.bigInt({ min: 0n, max: 40n }), fc.boolean()).map(([y, odd]) => encode(y, odd));
    const realKeys = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((secret) => ed25519.getPublicKey(secret));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }), nearP, smallY, realKeys), (key) => {
        expect(ed25519PointOf(key)).toBe(byTheLibrary(key));
      }),
      { numRuns: 3_000 },
    );
  });

  it('finds every point of small order, with either sign bit, as the library does', () => {
    const points = torsion();
    expect(new Set(points.map((p) => littleEndianInteger(p))).size).toBe(8);
    for (const point of points) {
      for (const key of [point, encode(littleEndianInteger(point) & ((1n << 255n) - 1n), (point[31]! & 0x80) === 0)]) {
        expect(ed25519PointOf(key)).toBe(byTheLibrary(key));
      }
      expect(ed25519PointOf(point)).toBe('small_order');
    }
  });

  it('names each verdict as the rule checkPublicKey refuses by', () => {
    const identityWithSign = encode(1n, true);
    const yIsP = encode(P, false);
    const small = torsion()[3]!;
    const noPoint = [...Array(64).keys()].map((y) => encode(BigInt(y) + 2n, false)).find((k) => byTheLibrary(k) === 'not_a_point')!;
    expect(checkPublicKey('ed25519', identityWithSign)).toMatchObject({ ok: false, rule: 'invalid_public_key' });
    expect(checkPublicKey('ed25519', yIsP)).toMatchObject({ ok: false, rule: 'invalid_public_key' });
    expect(checkPublicKey('ed25519', noPoint)).toMatchObject({ ok: false, rule: 'invalid_public_key' });
    expect(checkPublicKey('ed25519', small)).toMatchObject({ ok: false, rule: 'small_order_key' });
    expect(checkPublicKey('ed25519', ed25519.getPublicKey(new Uint8Array(32).fill(7)))).toMatchObject({ ok: true });
  });
});
