/**
 * Review 145, finding 3: a policy listing one public key twice (say for two actors, or with other roles) was accepted,
 * and the second entry never took effect: the verifier takes the first entry of a key fingerprint. It is now a
 * configuration error naming the second entry and the rule.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateSigningKey, toBase64url } from '../domain/crypto/index.ts';
import { parseRequestSigningPolicy, requestVerifier } from '../domain/signing/index.ts';
import { issuesOf } from './support/signing-policy-issues.ts';

const alice = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
const bob = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
const keyOf = (actorId: string, publicKey: Uint8Array) => ({ actorId, roles: ['operator' as const], algorithm: 'ed25519' as const, publicKey: toBase64url(publicKey) });

describe('a request-signing policy lists a public key once (review 145)', () => {
  it('refuses a second entry of the same key, naming keys.N.publicKey and duplicate_key, whatever its actor or roles', () => {
    const policy = { audience: 'credence:test', keys: [keyOf('operator:alice', alice.publicKey), keyOf('operator:bob', bob.publicKey), keyOf('operator:carol', alice.publicKey)] };
    expect(issuesOf(policy)).toEqual([
      { path: 'keys.2.publicKey', rule: 'duplicate_key', message: expect.stringContaining('the same public key as keys.0') },
    ]);
    expect(() => requestVerifier(policy)).toThrow(/keys\.2\.publicKey/);
  });

  it('keeps two different keys of one actor (a rotation: the old one retired, the new one current)', () => {
    const policy = {
      audience: 'credence:test',
      keys: [{ ...keyOf('operator:alice', alice.publicKey), retiredAt: '2026-06-01T00:00:00Z' }, keyOf('operator:alice', bob.publicKey)],
    };
    expect(parseRequestSigningPolicy(policy).keys).toHaveLength(2);
  });
});
