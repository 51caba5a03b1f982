/**
 * Review 182: a request-signing policy checked a public key's length alone, so an Ed25519 key of small order (the
 * identity point), an Ed25519 encoding with y >= p, or a P-256 point off the curve (all zero) was accepted, and every
 * command the key signed then failed verification. And `require: ["revokeNode", "fooBar"]` was refused only as
 * `require: Invalid input`. Each is now refused naming the field and the rule.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateSigningKey, toBase64url, verifySignature } from '../domain/crypto/index.ts';
import { parseRequestSigningPolicy } from '../domain/signing/index.ts';
import { issuesOf } from './support/signing-policy-issues.ts';

const random = (n: number) => new Uint8Array(randomBytes(n));
const keyOf = (algorithm: 'ed25519' | 'p256-ecdsa-sha256', publicKey: Uint8Array) => ({ actorId: 'operator:alice', roles: ['operator' as const], algorithm, publicKey: toBase64url(publicKey) });
const policyOf = (keys: unknown[], extra: Record<string, unknown> = {}) => ({ audience: 'credence:test', keys, ...extra });

/** 32 bytes little-endian of `y` (the sign bit of x left clear). */
const ed25519Encoding = (y: bigint): Uint8Array => {
  const bytes = new Uint8Array(32);
  for (let i = 0; i < 32; i++) bytes[i] = Number((y >> BigInt(8 * i)) & 0xffn);
  return bytes;
};
const P = 2n ** 255n - 19n;

describe('a request-signing policy refuses a public key that is no key, and an unknown command type, by name', () => {
  it.each([
    ['the identity point (small order)', 'small_order_key', ed25519Encoding(1n)],
    ['the point of order 2 (small order)', 'small_order_key', ed25519Encoding(P - 1n)],
    ['an encoding with y = p (not canonical)', 'invalid_public_key', ed25519Encoding(P)],
    ['an encoding with y = 2^255 - 1', 'invalid_public_key', ed25519Encoding(2n ** 255n - 1n)],
  ])('refuses an Ed25519 key that is %s, naming keys.1.publicKey and %s', (_what, rule, publicKey) => {
    const good = generateSigningKey('ed25519', random).publicKey;
    expect(issuesOf(policyOf([keyOf('ed25519', good), keyOf('ed25519', publicKey)]))).toEqual([
      { path: 'keys.1.publicKey', rule, message: expect.stringContaining('Ed25519') },
    ]);
  });

  it('refuses a P-256 key off the curve (all zero, or a point not on it), naming keys.0.publicKey', () => {
    const zero = new Uint8Array(65);
    zero[0] = 4;
    const offCurve = generateSigningKey('p256', random).publicKey.slice();
    offCurve[64] = offCurve[64]! ^ 1;
    for (const publicKey of [zero, offCurve]) {
      expect(issuesOf(policyOf([keyOf('p256-ecdsa-sha256', publicKey)]))).toEqual([
        { path: 'keys.0.publicKey', rule: 'invalid_public_key', message: expect.stringContaining('P-256') },
      ]);
    }
  });

  it('keeps real keys of both algorithms, and still names a key of the wrong length', () => {
    const ed = generateSigningKey('ed25519', random).publicKey;
    const p = generateSigningKey('p256', random).publicKey;
    expect(parseRequestSigningPolicy(policyOf([keyOf('ed25519', ed), keyOf('p256-ecdsa-sha256', p)])).keys).toHaveLength(2);
    expect(issuesOf(policyOf([keyOf('ed25519', ed.slice(0, 31))]))).toEqual([
      { path: 'keys.0.publicKey', rule: expect.any(String), message: expect.stringContaining('length') },
    ]);
    // What the refused Ed25519 identity key would have met: no signature verifies under it.
    expect(verifySignature('ed25519', ed25519Encoding(1n), new Uint8Array([1]), new Uint8Array(64))).toBe(false);
  });

  it('names an unknown command type in `require` and its index', () => {
    expect(issuesOf(policyOf([], { require: ['revokeNode', 'fooBar'] }))).toEqual([
      { path: 'require.1', rule: 'unknown_command_type', message: expect.stringContaining('fooBar') },
    ]);
    expect(parseRequestSigningPolicy(policyOf([], { require: ['revokeNode'] })).require).toEqual(['revokeNode']);
    expect(parseRequestSigningPolicy(policyOf([], { require: 'all' })).require).toBe('all');
    expect(parseRequestSigningPolicy(policyOf([])).require).toBe('none');
    expect(issuesOf(policyOf([], { require: 'some' }))).toEqual([expect.objectContaining({ path: 'require' })]);
  });
});
