/**
 * Found in review: CKA_EC_POINT was taken for a DER OCTET STRING whenever it started 04 <length - 2>, which a bare
 * P-256 point (04‖x‖y) also does when x starts with 0x3f: about 1 key in 256 (an Ed25519 key 1 in 65,536) was
 * described with its first two bytes cut off. The point is now read by the length its kind's point has.
 */
import { p256 } from '@noble/curves/nist.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { pkcs11js, type Pkcs11 } from '../adapters/driven/secure-environment/pkcs11/module.ts';
import { ecPoint, type EcPointKind } from '../adapters/driven/secure-environment/pkcs11/token-objects.ts';

/** A token that answers CKA_EC_POINT with `value`, and nothing else. */
const tokenAnswering = (value: Uint8Array): Pkcs11 =>
  ({
    C_GetAttributeValue: (_session: unknown, _object: unknown, template: { type: number }[]) => {
      expect(template).toEqual([{ type: pkcs11js.CKA_EC_POINT }]);
      return [{ type: pkcs11js.CKA_EC_POINT, value: Buffer.from(value) }];
    },
  }) as unknown as Pkcs11;
const read = (kind: EcPointKind, value: Uint8Array) => ecPoint(tokenAnswering(value), Buffer.alloc(8), Buffer.alloc(8), kind);
const der = (point: Uint8Array) => Uint8Array.of(0x04, point.length, ...point);

/** The first P-256 public key (secret keys 1, 2, 3, ...) whose x coordinate starts with 0x3f. */
const p256PointWithX3f = (): Uint8Array => {
  for (let n = 1; ; n += 1) {
    const secret = new Uint8Array(32);
    new DataView(secret.buffer).setUint32(28, n);
    const point = p256.getPublicKey(secret, false);
    if (point[1] === 0x3f) return point;
  }
};

describe('the public point of a token key', () => {
  const point = p256PointWithX3f();

  it('a bare P-256 point whose x starts with 0x3f (so it begins 04 3f, like a DER header) is read whole', () => {
    expect([point.length, point[0], point[1]]).toEqual([65, 0x04, 0x3f]);
    expect(read('p256', point)).toEqual(point);
  });

  it('the DER OCTET STRING of that same point is unwrapped to it', () => {
    expect(read('p256', der(point))).toEqual(point);
  });

  it('an Ed25519 point, bare or DER-wrapped, even one that begins 04 1e like a DER header', () => {
    const real = ed25519.getPublicKey(new Uint8Array(32).fill(7));
    expect(read('ed25519', real)).toEqual(real);
    expect(read('ed25519', der(real))).toEqual(real);
    // Read by length alone (no curve check here): 32 bytes beginning 04 1e, as 1 Ed25519 key in 65,536 does.
    const lookalike = Uint8Array.of(0x04, 0x1e, ...real.subarray(2));
    expect(read('ed25519', lookalike)).toEqual(lookalike);
    expect(read('ed25519', der(lookalike))).toEqual(lookalike);
  });

  it('any other length or header is a typed token error naming the lengths, not a misread key', () => {
    const wrong: [EcPointKind, Uint8Array][] = [
      ['p256', point.subarray(1)],
      ['p256', Uint8Array.of(0x03, ...point.subarray(1))],
      ['p256', Uint8Array.of(0x04, 0x40, ...point.subarray(0, 64))],
      ['p256', Uint8Array.of(0x05, 0x41, ...point)],
      ['p256', p256.getPublicKey(new Uint8Array(32).fill(1), true)],
      ['ed25519', new Uint8Array(33)],
      ['ed25519', Uint8Array.of(0x04, 0x21, ...new Uint8Array(32))],
      ['ed25519', new Uint8Array(0)],
    ];
    for (const [kind, value] of wrong) {
      let refused: unknown;
      try {
        read(kind, value);
      } catch (error) {
        refused = error;
      }
      expect({ kind, length: value.length, typed: isCredenceError(refused, 'validation') }).toEqual({ kind, length: value.length, typed: true });
      expect((refused as { problem: { issues: { path: string; rule: string }[] } }).problem.issues).toEqual([
        expect.objectContaining({ path: 'token', rule: 'ec_point', message: expect.stringContaining(`${kind} key (${value.length} bytes) is neither`) }),
      ]);
    }
  });
});
