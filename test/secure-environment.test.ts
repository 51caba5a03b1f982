import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { publicKeyFingerprint } from '../domain/crypto/fingerprint.ts';
import { verifySignature } from '../domain/crypto/signatures.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { fakeClock, memorySecureEnvironment } from './crypto-fixtures.ts';

const text = (s: string) => new TextEncoder().encode(s);
const ALICE = 'node:alice';
const MALLORY = 'node:mallory';

const problemOf = async (run: () => Promise<unknown>) => {
  try {
    await run();
  } catch (error) {
    if (isCredenceError(error)) return error.problem;
    throw error;
  }
  throw new Error('expected a CredenceError');
};

const setup = () => memorySecureEnvironment('se-behaviour', fakeClock().now);

describe('Secure Environment: handles, never bytes', () => {
  for (const kind of ['ed25519', 'p256'] as const) {
    it(`${kind}: signs with a handle; the signature verifies under the described public key and its fingerprint`, async () => {
      const se = setup();
      const handle = await se.generate(ALICE, kind);
      const description = await se.describe(ALICE, handle);
      expect(description).toMatchObject({ handle, kind, ephemeral: false, extractable: false });
      expect(Object.keys(description)).not.toContain('secretKey');
      const publicKey = description.publicKey as Uint8Array;
      expect(description.fingerprint).toBe(publicKeyFingerprint(kind, publicKey));
      const signature = await se.sign(ALICE, handle, text('hello'));
      expect(verifySignature(kind, publicKey, text('hello'), signature)).toBe(true);
    });
  }

  it('two PSK holders compute the same MAC only with the same key, and verifyMac rejects a flipped tag', async () => {
    const se = setup();
    const psk = await se.generate(ALICE, 'psk256');
    const tag = await se.mac(ALICE, psk, text('transcript'));
    expect(tag).toHaveLength(32);
    expect(await se.verifyMac(ALICE, psk, text('transcript'), tag)).toBe(true);
    tag[0] = (tag[0] as number) ^ 1;
    expect(await se.verifyMac(ALICE, psk, text('transcript'), tag)).toBe(false);
    const other = await se.generate(ALICE, 'psk256');
    expect(await se.mac(ALICE, other, text('transcript'))).not.toEqual(await se.mac(ALICE, psk, text('transcript')));
  });

  for (const group of ['x25519', 'p256'] as const) {
    it(`${group}: agreement on both sides then HKDF gives the same session key, proven by sealing on one side and opening on the other`, async () => {
      const se = setup();
      const a = await se.generate(ALICE, group, { ephemeral: true });
      const b = await se.generate('node:bob', group, { ephemeral: true });
      const spec = { salt: text('salt'), info: text('info'), kind: 'session256' as const };
      const keyA = await se.deriveKey(ALICE, { ...spec, inputs: [await se.agree(ALICE, a, (await se.describe('node:bob', b)).publicKey as Uint8Array)] });
      const keyB = await se.deriveKey('node:bob', { ...spec, inputs: [await se.agree('node:bob', b, (await se.describe(ALICE, a)).publicKey as Uint8Array)] });
      const sealed = await se.seal(ALICE, keyA, text('meter reading 42'), text('aad'));
      expect(new TextDecoder().decode(await se.open('node:bob', keyB, sealed, text('aad')))).toBe('meter reading 42');
      expect(await se.open('node:bob', keyB, sealed, text('other aad'))).toBeUndefined();
    });
  }

  it('a refused peer key for agreement is a typed validation error', async () => {
    const se = setup();
    const a = await se.generate(ALICE, 'x25519');
    expect(await problemOf(() => se.agree(ALICE, a, new Uint8Array(32)))).toMatchObject({ code: 'validation' });
  });

  it('a PSK travels wrapped: wrap under a shared key, unwrap elsewhere, same fingerprint and same MACs', async () => {
    const se = setup();
    const psk = await se.generate(ALICE, 'psk256', { extractable: true });
    const kekA = await se.deriveKey(ALICE, { inputs: [await se.generate(ALICE, 'psk256')], salt: text('s'), info: text('i'), kind: 'session256' });
    const wrapped = await se.wrap(ALICE, psk, kekA, text('bound'));
    expect(Buffer.from(wrapped).includes(Buffer.from(se.exportForTest(psk)))).toBe(false);
    const imported = await se.unwrap(ALICE, kekA, wrapped, text('bound'), { kind: 'psk256' });
    expect(imported).toBeDefined();
    expect((await se.describe(ALICE, imported as KeyHandle)).fingerprint).toBe((await se.describe(ALICE, psk)).fingerprint);
    expect(await se.unwrap(ALICE, kekA, wrapped, text('other'), { kind: 'psk256' })).toBeUndefined();
    expect(await se.unwrap(ALICE, kekA, wrapped, text('bound'), { kind: 'session256' })).toBeUndefined();
  });

  it('a non-extractable key cannot be wrapped', async () => {
    const se = setup();
    const psk = await se.generate(ALICE, 'psk256');
    const kek = await se.deriveKey(ALICE, { inputs: [psk], salt: text('s'), info: text('i'), kind: 'session256' });
    await expect(se.wrap(ALICE, psk, kek, text(''))).rejects.toThrow('handle: key is not extractable');
  });

  it('misusing a key kind is a programming error naming the handle', async () => {
    const se = setup();
    const psk = await se.generate(ALICE, 'psk256');
    const ed = await se.generate(ALICE, 'ed25519');
    await expect(se.sign(ALICE, psk, text('x'))).rejects.toThrow('handle: a psk256 key cannot sign');
    await expect(se.mac(ALICE, ed, text('x'))).rejects.toThrow('handle: a ed25519 key cannot mac');
    await expect(se.agree(ALICE, ed, new Uint8Array(32))).rejects.toThrow('handle: a ed25519 key cannot agree');
  });
});

describe('Secure Environment: owners', () => {
  it('a handle used by anyone but its owner is refused as unauthorised, for every operation', async () => {
    const se = setup();
    const ed = await se.generate(ALICE, 'ed25519');
    const psk = await se.generate(ALICE, 'psk256', { extractable: true });
    const kek = await se.deriveKey(ALICE, { inputs: [psk], salt: text('s'), info: text('i'), kind: 'session256' });
    const attempts: (() => Promise<unknown>)[] = [
      () => se.describe(MALLORY, ed),
      () => se.sign(MALLORY, ed, text('x')),
      () => se.mac(MALLORY, psk, text('x')),
      () => se.verifyMac(MALLORY, psk, text('x'), new Uint8Array(32)),
      () => se.seal(MALLORY, kek, text('x'), text('')),
      () => se.wrap(MALLORY, psk, kek, text('')),
      () => se.deriveKey(MALLORY, { inputs: [psk], salt: text('s'), info: text('i'), kind: 'session256' }),
      () => se.destroy(MALLORY, ed),
    ];
    for (const attempt of attempts) {
      expect(await problemOf(attempt)).toMatchObject({ code: 'unauthorised', actor: MALLORY });
    }
    // Still intact for its owner after all that.
    expect((await se.describe(ALICE, ed)).kind).toBe('ed25519');
  });

  it('mixing keys of two owners in one derivation is refused', async () => {
    const se = setup();
    const mine = await se.generate(ALICE, 'psk256');
    const theirs = await se.generate(MALLORY, 'psk256');
    expect(await problemOf(() => se.deriveKey(ALICE, { inputs: [mine, theirs], salt: text('s'), info: text('i'), kind: 'session256' }))).toMatchObject({
      code: 'unauthorised',
    });
  });
});

describe('Secure Environment: destroy', () => {
  it('after destroy, every use of the handle fails with not_found', async () => {
    const se = setup();
    const ed = await se.generate(ALICE, 'ed25519');
    await se.sign(ALICE, ed, text('before'));
    await se.destroy(ALICE, ed);
    for (const attempt of [() => se.sign(ALICE, ed, text('after')), () => se.describe(ALICE, ed), () => se.destroy(ALICE, ed)]) {
      expect(await problemOf(attempt)).toMatchObject({ code: 'not_found', streamId: ed });
    }
    expect(() => se.exportForTest(ed)).toThrow(`key ${ed} does not exist`);
  });

  it('an agreement secret is ephemeral and never extractable', async () => {
    const se = setup();
    const a = await se.generate(ALICE, 'x25519');
    const b = await se.generate(ALICE, 'x25519');
    const secret = await se.agree(ALICE, a, (await se.describe(ALICE, b)).publicKey as Uint8Array);
    expect(await se.describe(ALICE, secret)).toMatchObject({ kind: 'secret', ephemeral: true, extractable: false });
  });
});
