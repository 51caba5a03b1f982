import { ed25519 } from '@noble/curves/ed25519.js';
import { littleEndianInteger } from './bytes.ts';

/**
 * What an Ed25519 public key's 32 bytes are as a point (RFC 8032 §5.1.3), decided without decoding the point.
 *
 * Decoding takes a square root modulo p, some 70 µs in @noble/curves here, on every issueCredential and every
 * receipt key (review 201's check, which halved the 64 distinct callers' rate of the commands bench). Whether an x
 * exists for y only needs to know whether x² = (y² - 1) / (d·y² + 1) is a square, which a Jacobi symbol tells in
 * some 15 µs; and the points of small order have five y-coordinates in all, so y alone says whether a point is one.
 * The verdicts are @noble/curves' own (`Point.fromBytes(key, false)` and `isSmallOrder()`), which the tests hold this
 * to over random and crafted encodings.
 */
export type Ed25519PointVerdict = 'point' | 'not_a_point' | 'small_order';

const P = 2n ** 255n - 19n;
const Y_MASK = (1n << 255n) - 1n;
const D = ed25519.Point.CURVE().d;

const mod = (a: bigint): bigint => {
  const r = a % P;
  return r < 0n ? r + P : r;
};

/** The Jacobi symbol (a/n) for an odd n > 0, by quadratic reciprocity (Cohen, Algorithm 1.4.10): no multiplication mod p. */
const jacobi = (a: bigint, n: bigint): -1 | 0 | 1 => {
  let t: -1 | 1 = 1;
  a %= n;
  while (a !== 0n) {
    while ((a & 1n) === 0n) {
      a >>= 1n;
      const r = n & 7n;
      if (r === 3n || r === 5n) t = t === 1 ? -1 : 1;
    }
    [a, n] = [n, a];
    if ((a & 3n) === 3n && (n & 3n) === 3n) t = t === 1 ? -1 : 1;
    a %= n;
  }
  return n === 1n ? t : 0;
};

/**
 * The y-coordinates of the eight points of order dividing 8: the identity (y = 1), the point of order 2 (y = -1),
 * the two of order 4 (y = 0) and the four of order 8 (y = ±y8), y8 taken from one of them (the first of libsodium's
 * small-order encodings) so that no constant has to be trusted but that one, which the tests check is of order 8.
 */
const ORDER_8_ENCODING = '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05';
const Y8 = ed25519.Point.fromHex(ORDER_8_ENCODING).toAffine().y;
const SMALL_ORDER_Y: ReadonlySet<bigint> = new Set([1n, P - 1n, 0n, Y8, P - Y8]);

export const ed25519PointOf = (key: Uint8Array): Ed25519PointVerdict => {
  const encoded = littleEndianInteger(key);
  const y = encoded & Y_MASK;
  // y >= p is another encoding of y - p: RFC 8032 decoding (noble's with zip215 off) refuses it, so a point has one.
  if (y >= P) return 'not_a_point';
  const y2 = mod(y * y);
  const u = mod(y2 - 1n);
  // v = d·y² + 1 is never 0 (d is not a square), so u / v is a square exactly when u·v is.
  const v = mod(D * y2 + 1n);
  if (u === 0n) {
    // x = 0, whose sign bit must be 0: with it set, the encoding is refused as a second one of the same point.
    if (encoded >> 255n !== 0n) return 'not_a_point';
  } else if (jacobi(mod(u * v), P) !== 1) return 'not_a_point';
  return SMALL_ORDER_Y.has(y) ? 'small_order' : 'point';
};
