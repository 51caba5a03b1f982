import { describe, expect, it } from 'vitest';
import { aeadOpen, aeadSeal } from '../domain/crypto/aead.ts';
import { generateAgreementKey, sharedSecret } from '../domain/crypto/agreement.ts';
import { constantTimeEqual, assertBytes, wipe } from '../domain/crypto/bytes.ts';
import { hkdfSha256, hmacSha256, sha256 } from '../domain/crypto/hash.ts';
import { generateSigningKey, sign, signingPublicKey, verifySignature } from '../domain/crypto/signatures.ts';
import { seededRandom } from './crypto-fixtures.ts';

const hex = (h: string) => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const text = (s: string) => new TextEncoder().encode(s);
const flip = (b: Uint8Array, i: number) => {
  const c = b.slice();
  c[i] = (c[i] as number) ^ 1;
  return c;
};

describe('known-answer vectors', () => {
  it('SHA-256 matches FIPS 180-2 "abc"', () => {
    expect(toHex(sha256(text('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('HMAC-SHA256 matches RFC 4231 test case 2', () => {
    expect(toHex(hmacSha256(text('Jefe'), text('what do ya want for nothing?')))).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('HKDF-SHA256 matches RFC 5869 test case 1', () => {
    const okm = hkdfSha256(hex('0b'.repeat(22)), hex('000102030405060708090a0b0c'), hex('f0f1f2f3f4f5f6f7f8f9'), 42);
    expect(toHex(okm)).toBe('3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
  });

  it('Ed25519 matches RFC 8032 §7.1 test 1', () => {
    const secret = hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
    expect(toHex(signingPublicKey('ed25519', secret))).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    const signature = sign('ed25519', secret, new Uint8Array(0));
    expect(toHex(signature)).toBe(
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    );
  });

  it('X25519 matches RFC 7748 §6.1', () => {
    const alice = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    const bobPublic = hex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    expect(toHex(sharedSecret('x25519', alice, bobPublic) as Uint8Array)).toBe(
      '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
    );
  });

  it('XChaCha20-Poly1305 matches draft-irtf-cfrg-xchacha-03 §A.3.1', () => {
    const key = hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
    const nonce = hex('404142434445464748494a4b4c4d4e4f5051525354555657');
    const aad = hex('50515253c0c1c2c3c4c5c6c7');
    const plaintext = text("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.");
    const sealed = aeadSeal(key, plaintext, aad, () => nonce.slice());
    expect(toHex(sealed.subarray(24))).toBe(
      'bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e' +
        'c0875924c1c7987947deafd8780acf49',
    );
  });
});

describe('signatures', () => {
  const random = seededRandom('signatures');
  for (const kind of ['ed25519', 'p256'] as const) {
    it(`${kind}: a signature verifies, and fails after flipping any byte of message, signature or key`, () => {
      const { secretKey, publicKey } = generateSigningKey(kind, random);
      const message = text('credence transcript');
      const signature = sign(kind, secretKey, message);
      expect(signature).toHaveLength(64);
      expect(verifySignature(kind, publicKey, message, signature)).toBe(true);
      for (let i = 0; i < message.length; i++) expect(verifySignature(kind, publicKey, flip(message, i), signature)).toBe(false);
      for (let i = 0; i < signature.length; i++) expect(verifySignature(kind, publicKey, message, flip(signature, i))).toBe(false);
      for (let i = 0; i < publicKey.length; i++) expect(verifySignature(kind, flip(publicKey, i), message, signature)).toBe(false);
    });
  }

  it('p256 signatures are low-S and the high-S twin of a valid signature is refused', () => {
    const { secretKey, publicKey } = generateSigningKey('p256', random);
    const message = text('malleability');
    const signature = sign('p256', secretKey, message);
    const n = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
    const s = BigInt(`0x${toHex(signature.subarray(32))}`);
    expect(s <= n / 2n).toBe(true);
    const twin = new Uint8Array(64);
    twin.set(signature.subarray(0, 32));
    twin.set(hex((n - s).toString(16).padStart(64, '0')), 32);
    expect(verifySignature('p256', publicKey, message, twin)).toBe(false);
  });

  it('a signature with the wrong length is a failed verification, not an exception', () => {
    const { secretKey, publicKey } = generateSigningKey('ed25519', random);
    const signature = sign('ed25519', secretKey, text('x'));
    expect(verifySignature('ed25519', publicKey, text('x'), signature.subarray(0, 63))).toBe(false);
  });
});

describe('key agreement', () => {
  const random = seededRandom('agreement');
  for (const group of ['x25519', 'p256'] as const) {
    it(`${group}: both sides compute the same 32-byte secret`, () => {
      const a = generateAgreementKey(group, random);
      const b = generateAgreementKey(group, random);
      const ab = sharedSecret(group, a.secretKey, b.publicKey) as Uint8Array;
      expect(ab).toHaveLength(32);
      expect(toHex(ab)).toBe(toHex(sharedSecret(group, b.secretKey, a.publicKey) as Uint8Array));
    });
  }

  it('refuses an X25519 low-order point and an off-curve P-256 point', () => {
    const a = generateAgreementKey('x25519', random);
    expect(sharedSecret('x25519', a.secretKey, new Uint8Array(32))).toBeUndefined();
    const b = generateAgreementKey('p256', random);
    expect(sharedSecret('p256', b.secretKey, flip(b.publicKey, 40))).toBeUndefined();
  });
});

describe('AEAD', () => {
  const random = seededRandom('aead');
  it('opens what it sealed and refuses any flipped byte, other AAD or other key', () => {
    const key = random(32);
    const sealed = aeadSeal(key, text('psk bytes'), text('aad'), random);
    expect(new TextDecoder().decode(aeadOpen(key, sealed, text('aad')))).toBe('psk bytes');
    for (let i = 0; i < sealed.length; i++) expect(aeadOpen(key, flip(sealed, i), text('aad'))).toBeUndefined();
    expect(aeadOpen(key, sealed, text('aae'))).toBeUndefined();
    expect(aeadOpen(random(32), sealed, text('aad'))).toBeUndefined();
    expect(aeadOpen(key, sealed.subarray(0, 20), text('aad'))).toBeUndefined();
  });
});

describe('byte helpers', () => {
  it('constant-time comparison is equality of content', () => {
    expect(constantTimeEqual(hex('00ff'), hex('00ff'))).toBe(true);
    expect(constantTimeEqual(hex('00ff'), hex('00fe'))).toBe(false);
    expect(constantTimeEqual(hex('00ff'), hex('00ff00'))).toBe(false);
  });

  it('length checks name the argument', () => {
    expect(() => assertBytes(new Uint8Array(31), 'publicKey', 32)).toThrow('publicKey must be 32 bytes, got 31');
    expect(() => assertBytes('nope', 'salt')).toThrow('salt must be a Uint8Array');
    expect(() => aeadSeal(new Uint8Array(16), new Uint8Array(1), new Uint8Array(0), seededRandom('x'))).toThrow('key must be 32 bytes');
  });

  it('wipe zeroes every buffer given', () => {
    const a = hex('0102');
    const b = hex('0304');
    wipe(a, undefined, b);
    expect([...a, ...b]).toEqual([0, 0, 0, 0]);
  });
});
