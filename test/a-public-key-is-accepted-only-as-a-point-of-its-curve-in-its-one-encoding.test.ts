import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { CredentialDescriptor, isValidAgreementPublicKey, isValidSigningPublicKey, publicKeyFingerprint, sharedSecret, subjectPublicKeyInfo } from '../domain/crypto/index.ts';
import { checkPublicKey } from '../domain/crypto/public-key.ts';
import { at, cmd, footprint, rejection, T0 } from './support/fleet.ts';

/*
 * Review 201: one function (domain/crypto/public-key.ts) decides whether a public key is acceptable, and every boundary
 * asks it. A point off its curve, the identity and an Ed25519 or X25519 point of small order are refused as such, a
 * key in another encoding as `canonical_key`; a key in its one encoding is accepted as before. The small-order check
 * lived in the request-signing policy alone: isValidSigningPublicKey (enrolment, receipts) holds it now.
 */
const p256Key = p256.getPublicKey(p256.utils.randomSecretKey(new Uint8Array(48).fill(3)), false);
const offCurve = Uint8Array.from(p256Key);
offCurve[64] = (offCurve[64] as number) ^ 1;
const ed25519Key = ed25519.getPublicKey(new Uint8Array(32).fill(5));
/** The Ed25519 identity (y = 1), of order 1, and a point of order 4 (y = 0). */
const ed25519Identity = Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0));
const ed25519Order4 = new Uint8Array(32);
/** y = p + 1: the identity again, in an encoding RFC 8032 refuses as no point (y must be below p). */
const ed25519NonCanonical = Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 0xee : i === 31 ? 0x7f : 0xff));
/** An Ed25519 y with no x: no point at all. */
const ed25519NotAPoint = Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 2 : 0));
const x25519Key = x25519.getPublicKey(new Uint8Array(32).fill(9));

describe('checkPublicKey, the one decision on a public key', () => {
  it.each([
    ['p256', p256Key],
    ['ed25519', ed25519Key],
    ['x25519', x25519Key],
  ] as const)('accepts a %s key in its one encoding, with the SubjectPublicKeyInfo Credence fingerprints', (kind, key) => {
    expect(checkPublicKey(kind, key)).toEqual({ ok: true, spki: subjectPublicKeyInfo(kind, key) });
  });

  it.each([
    ['p256', 'an off-curve point', 'invalid_public_key', offCurve],
    ['p256', 'a hybrid point', 'canonical_key', Uint8Array.from([0x06 | ((p256Key[64] as number) & 1), ...p256Key.subarray(1)])],
    ['p256', 'a compressed point', 'canonical_key', p256.getPublicKey(p256.utils.randomSecretKey(new Uint8Array(48).fill(3)), true)],
    ['p256', 'the identity (SEC 1: 00)', 'canonical_key', Uint8Array.of(0)],
    ['ed25519', 'the identity', 'small_order_key', ed25519Identity],
    ['ed25519', 'a point of order 4', 'small_order_key', ed25519Order4],
    ['ed25519', 'y >= p', 'invalid_public_key', ed25519NonCanonical],
    ['ed25519', '31 bytes', 'canonical_key', ed25519Key.subarray(0, 31)],
    ['ed25519', 'a y with no x', 'invalid_public_key', ed25519NotAPoint],
    ['x25519', 'u = 0 (small order)', 'small_order_key', new Uint8Array(32)],
    ['x25519', 'u = 1 (small order)', 'small_order_key', ed25519Identity],
    ['x25519', 'u with the top bit set', 'canonical_key', Uint8Array.from(x25519Key, (b, i) => (i === 31 ? b | 0x80 : b))],
  ] as const)('refuses as a %s key %s (%s)', (kind, _what, rule, key) => {
    expect(checkPublicKey(kind, key)).toMatchObject({ ok: false, rule });
  });

  it('is what isValidSigningPublicKey answers (a small-order Ed25519 key is refused there) and what an ECDH takes', () => {
    expect(isValidSigningPublicKey('ed25519', ed25519Identity)).toBe(false);
    expect(isValidSigningPublicKey('ed25519', ed25519Key)).toBe(true);
    expect(isValidSigningPublicKey('p256', Uint8Array.from([0x06 | ((p256Key[64] as number) & 1), ...p256Key.subarray(1)]))).toBe(false);
    expect(isValidAgreementPublicKey('p256', offCurve)).toBe(false);
    const mine = new Uint8Array(32).fill(4);
    expect(sharedSecret('x25519', mine, x25519Key)).toHaveLength(32);
    expect(sharedSecret('x25519', mine, new Uint8Array(32))).toBeUndefined();
    expect(sharedSecret('x25519', mine, Uint8Array.from(x25519Key, (b, i) => (i === 31 ? b | 0x80 : b)))).toBeUndefined();
  });

  it('is what a credential descriptor (the handshake and provisioning messages) is checked with', () => {
    const descriptor = (key: Uint8Array) => ({
      kind: 'ed25519',
      fingerprint: publicKeyFingerprint('ed25519', key),
      publicKey: Buffer.from(key).toString('base64url'),
      validity: { notBefore: T0, notAfter: at(30) },
      owner: { kind: 'node', id: 'meter-1' },
    });
    expect(CredentialDescriptor.safeParse(descriptor(ed25519Key)).success).toBe(true);
    const refused = CredentialDescriptor.safeParse(descriptor(ed25519Identity));
    expect(refused.success).toBe(false);
    expect(refused.error?.issues).toEqual([expect.objectContaining({ path: ['publicKey'], params: { rule: 'small_order_key' } })]);
  });
});

describe('issueCredential', () => {
  it.each([
    ['p256', 'an off-curve point', 'invalid_public_key', offCurve],
    ['ed25519', 'a small-order point', 'small_order_key', ed25519Order4],
  ] as const)('refuses a %s credential on %s naming publicKey and %s, and writes nothing', async (kind, _what, rule, key) => {
    const store = openSqliteStore({ memory: true });
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    for (const c of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.enrolNode('meter-1')]) await engine.execute(c);
    const before = await footprint(store);
    const onKey = { kind, publicKey: Buffer.from(key).toString('base64url'), fingerprint: publicKeyFingerprint(kind, key) };
    const refused = await rejection(engine.execute(cmd.issueCredential('cred-1', 'meter-1', at(90), onKey)));
    expect(refused.problem).toMatchObject({ code: 'validation', issues: [expect.objectContaining({ path: 'data.publicKey', rule })] });
    expect(await footprint(store)).toEqual(before);
    await store.close();
  });

  it('accepts a credential on a key in its one encoding', async () => {
    const store = openSqliteStore({ memory: true });
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    for (const c of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.enrolNode('meter-1')]) await engine.execute(c);
    const onKey = { kind: 'p256', publicKey: Buffer.from(p256Key).toString('base64url'), fingerprint: publicKeyFingerprint('p256', p256Key) };
    await expect(engine.execute(cmd.issueCredential('cred-1', 'meter-1', at(90), onKey))).resolves.toMatchObject({ state: 'initialized' });
    await store.close();
  });
});
