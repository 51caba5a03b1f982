import canonicalizeModule from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../domain/crypto/index.ts';
import { eventLeafHash } from '../domain/transparency/index.ts';

// The reference implementation (recursive), kept as a dev dependency to prove ours (iterative) writes the same bytes.
const reference = canonicalizeModule as unknown as (input: unknown) => string | undefined;

describe('RFC 8785 canonical JSON, iterative', () => {
  it('writes exactly what the canonicalize package writes, on any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(canonicalJson(value)).toBe(reference(value));
      }),
      { seed: 8785, numRuns: 2_000 },
    );
  });

  it('follows the RFC 8785 section 3.2.3 example ordering and number forms', () => {
    const value = { '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' };
    expect(canonicalJson(value)).toBe(reference(value));
    expect(canonicalJson({ numbers: [333333333.33333329, 1e30, 4.5, 2e-3, 0.000000000000000000000000001, -0] })).toBe(
      '{"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27,0]}',
    );
  });

  it('canonicalises a stored event nested far deeper than a recursive serialiser can, so the log never stalls on one', () => {
    let data: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 50_000; i++) data = { a: data };
    const hash = eventLeafHash({ id: 'e', streamId: 'other-tool-1', revision: 0n, position: 1n, type: 'Foo', data: data as never, metadata: {} });
    expect(hash).toHaveLength(32);
    expect(() => reference(data)).toThrow(RangeError);
  });

  it('refuses what is not JSON with a TypeError, cycles included (it never loops)', () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(TypeError);
    expect(() => canonicalJson({ n: 1n })).toThrow(TypeError);
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic['self'] = { back: cyclic };
    expect(() => canonicalJson(cyclic)).toThrow(/cycle/);
    const selfish = { toJSON() { return this; } };
    expect(() => canonicalJson({ x: selfish })).toThrow(TypeError);
    const shared = { v: 1 };
    expect(canonicalJson({ a: shared, b: [shared, shared] })).toBe('{"a":{"v":1},"b":[{"v":1},{"v":1}]}');
  });
});
