import { createHash, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Base64urlBytes, base64urlString, fromBase64url, toBase64url, tryFromBase64url } from '../domain/crypto/base64url.ts';
import { CredentialDescriptor, validityAt } from '../domain/crypto/credential.ts';
import { publicKeyFingerprint, publicKeyFromSpki, secretKeyFingerprint, subjectPublicKeyInfo } from '../domain/crypto/fingerprint.ts';
import { generateAgreementKey } from '../domain/crypto/agreement.ts';
import { generateSigningKey } from '../domain/crypto/signatures.ts';
import { proofInput, Transcript } from '../domain/crypto/transcript.ts';
import { seededRandom } from './crypto-fixtures.ts';

const random = seededRandom('encoding');

describe('base64url', () => {
  it('round-trips every length from 0 to 70 bytes through the codec', () => {
    for (let n = 0; n <= 70; n++) {
      const bytes = random(n);
      const text = Base64urlBytes.encode(bytes);
      expect(text).toMatch(/^[A-Za-z0-9_-]*$/);
      expect(Base64urlBytes.decode(text)).toEqual(bytes);
    }
  });

  it('refuses padding, the standard alphabet, and non-canonical trailing bits', () => {
    expect(tryFromBase64url('AQ==')).toBeUndefined();
    expect(tryFromBase64url('+/8')).toBeUndefined();
    expect(tryFromBase64url('AR')).toBeUndefined(); // 'AQ' is the canonical spelling of 0x01
    expect(tryFromBase64url('AQ')).toEqual(new Uint8Array([1]));
    expect(tryFromBase64url('A')).toBeUndefined();
    expect(() => fromBase64url('AR', 'nonce')).toThrow('nonce must be canonical unpadded base64url');
  });

  it('a length-checked field reports the decoded length', () => {
    const schema = base64urlString(32);
    expect(schema.safeParse(toBase64url(random(32))).success).toBe(true);
    const short = schema.safeParse(toBase64url(random(31)));
    expect(short.success).toBe(false);
    expect(short.error?.issues[0]?.message).toBe('must encode 32 bytes, got 31');
  });
});

describe('fingerprints', () => {
  for (const kind of ['ed25519', 'p256'] as const) {
    it(`${kind}: the SubjectPublicKeyInfo is what OpenSSL parses, and the fingerprint is SHA-256 of its DER`, () => {
      const { publicKey } = generateSigningKey(kind, random);
      const spki = subjectPublicKeyInfo(kind, publicKey);
      const parsed = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
      expect(parsed.asymmetricKeyType).toBe(kind === 'p256' ? 'ec' : 'ed25519');
      const der = parsed.export({ format: 'der', type: 'spki' });
      expect(publicKeyFingerprint(kind, publicKey)).toBe(`sha256:${createHash('sha256').update(der).digest('hex')}`);
      expect(publicKeyFromSpki(spki)).toEqual({ kind, publicKey });
    });
  }

  it('x25519 keys have an RFC 8410 SubjectPublicKeyInfo too', () => {
    const { publicKey } = generateAgreementKey('x25519', random);
    const parsed = createPublicKey({ key: Buffer.from(subjectPublicKeyInfo('x25519', publicKey)), format: 'der', type: 'spki' });
    expect(parsed.asymmetricKeyType).toBe('x25519');
  });

  it('a secret key fingerprint is keyed and labelled, never the bare SHA-256 of the key', () => {
    const psk = random(32);
    const fingerprint = secretKeyFingerprint(psk);
    expect(fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(fingerprint).not.toBe(`sha256:${createHash('sha256').update(psk).digest('hex')}`);
    expect(fingerprint).toBe(secretKeyFingerprint(psk.slice()));
    expect(fingerprint).not.toBe(secretKeyFingerprint(random(32)));
  });
});

describe('CredentialDescriptor', () => {
  const validity = { notBefore: '2030-01-01T00:00:00.000Z', notAfter: '2031-01-01T00:00:00.000Z' };
  const owner = { kind: 'node', id: 'node-1' };
  const { publicKey } = generateSigningKey('p256', random);
  const p256 = { kind: 'p256', fingerprint: publicKeyFingerprint('p256', publicKey), publicKey: toBase64url(publicKey), validity, owner };

  it('accepts a PSK and an asymmetric credential described by public facts only', () => {
    expect(CredentialDescriptor.parse(p256)).toEqual(p256);
    const psk = { kind: 'psk256', fingerprint: secretKeyFingerprint(random(32)), validity, owner: { kind: 'app', id: 'C-app-7' } };
    expect(CredentialDescriptor.parse(psk)).toEqual(psk);
  });

  it('refuses any extra field, so no secret can ride along', () => {
    expect(CredentialDescriptor.safeParse({ ...p256, secretKey: toBase64url(random(32)) }).success).toBe(false);
    expect(CredentialDescriptor.safeParse({ kind: 'psk256', fingerprint: p256.fingerprint, validity, owner, key: 'x' }).success).toBe(false);
  });

  it('refuses a fingerprint that is not the public key’s, a reversed validity and an unknown owner kind', () => {
    expect(CredentialDescriptor.safeParse({ ...p256, fingerprint: secretKeyFingerprint(random(32)) }).error?.issues[0]?.path).toEqual(['fingerprint']);
    expect(CredentialDescriptor.safeParse({ ...p256, validity: { notBefore: validity.notAfter, notAfter: validity.notBefore } }).success).toBe(false);
    expect(CredentialDescriptor.safeParse({ ...p256, owner: { kind: 'user', id: 'x' } }).success).toBe(false);
  });

  it('reads validity against a given instant, notAfter exclusive', () => {
    expect(validityAt(validity, new Date('2029-12-31T23:59:59.999Z'))).toBe('not_yet_valid');
    expect(validityAt(validity, new Date(validity.notBefore))).toBe('active');
    expect(validityAt(validity, new Date(validity.notAfter))).toBe('expired');
  });
});

describe('transcript', () => {
  it('hashes the canonical form: key order does not matter, any value change does', () => {
    const a = new Transcript('test');
    const b = new Transcript('test');
    expect(a.absorb('m', { x: 1, y: 'two' })).toEqual(b.absorb('m', { y: 'two', x: 1 }));
    const c = new Transcript('test');
    expect(c.absorb('m', { x: 1, y: 'twO' })).not.toEqual(a.hash);
  });

  it('binds the step name and the protocol, and proofs bind the role', () => {
    expect(new Transcript('test').absorb('a', {})).not.toEqual(new Transcript('test').absorb('b', {}));
    expect(new Transcript('p1').absorb('a', {})).not.toEqual(new Transcript('p2').absorb('a', {}));
    const th = new Transcript('test').hash;
    expect(proofInput('test', 'node', 'auth', th)).not.toEqual(proofInput('test', 'server', 'auth', th));
  });
});
