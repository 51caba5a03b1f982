/**
 * Security issue 11 item 9: the Secure Environment's access control holds as described. Owners can be fixed
 * (owner-scoped views, an allow-list of owners); a derived key never leaves; the production class has no way to
 * export key bytes; a P-256 key has one usage, fixed at generation.
 */
import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/embedded.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { fakeClock, seededRandom } from './crypto-fixtures.ts';

const ALICE = 'node:alice';
const MALLORY = 'node:mallory';
const text = (s: string) => new TextEncoder().encode(s);
const clock = fakeClock();
const open = (extra: Record<string, unknown> = {}) =>
  EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' }, ...extra }, { now: clock.now, random: seededRandom('access') });

describe('derived keys never leave the Secure Environment', () => {
  it('agree then deriveKey with extractable: true is a typed refusal, so a session key cannot be wrapped out', async () => {
    const se = open();
    const mine = await se.generate(ALICE, 'x25519', { ephemeral: true });
    const peer = await se.generate(ALICE, 'x25519', { ephemeral: true });
    const secret = await se.agree(ALICE, mine, (await se.describe(ALICE, peer)).publicKey as Uint8Array);
    const spec = { inputs: [secret], salt: text('s'), info: text('i'), kind: 'session256' as const, extractable: true };
    const error = await se.deriveKey(ALICE, spec).catch((e: unknown) => e);
    expect(isCredenceError(error, 'validation') && error.problem.code === 'validation' && error.problem.issues[0]?.path).toBe('spec.extractable');
    const psk = await se.generate(ALICE, 'psk256');
    await expect(se.deriveKey(ALICE, { ...spec, inputs: [psk], kind: 'psk256' })).rejects.toSatisfy((e) => isCredenceError(e, 'validation'));
    se.close();
  });
});

describe('the production class cannot export key bytes', () => {
  it('has no exportForTest (or any other export) method', () => {
    const se = open();
    expect('exportForTest' in se).toBe(false);
    expect(Object.getOwnPropertyNames(EmbeddedSecureEnvironment.prototype).filter((name) => /export/i.test(name))).toEqual([]);
    se.close();
  });
});

describe('a P-256 key has one usage, fixed at generation', () => {
  it('a signing P-256 key cannot agree, and an agreement P-256 key cannot sign', async () => {
    const se = open();
    const signing = await se.generate(ALICE, 'p256', { usage: 'sign' });
    const agreement = await se.generate(ALICE, 'p256', { usage: 'agree' });
    const peer = (await se.describe(ALICE, agreement)).publicKey as Uint8Array;
    expect(await se.describe(ALICE, signing)).toMatchObject({ kind: 'p256', usage: 'sign' });
    expect(await se.describe(ALICE, agreement)).toMatchObject({ kind: 'p256', usage: 'agree' });
    await expect(se.agree(ALICE, signing, peer)).rejects.toThrow(/handle: .*p256 key .*sign.* cannot agree/);
    await expect(se.sign(ALICE, agreement, text('x'))).rejects.toThrow(/handle: .*p256 key .*agree.* cannot sign/);
    await expect(se.sign(ALICE, signing, text('x'))).resolves.toHaveLength(64);
    await expect(se.agree(ALICE, agreement, (await se.describe(ALICE, await se.generate(ALICE, 'p256', { usage: 'agree' }))).publicKey as Uint8Array)).resolves.toBeTypeOf('string');
    se.close();
  });

  it('without a usage, a stored P-256 key signs and an ephemeral one agrees; a usage that does not fit the kind is refused', async () => {
    const se = open();
    expect((await se.describe(ALICE, await se.generate(ALICE, 'p256'))).usage).toBe('sign');
    expect((await se.describe(ALICE, await se.generate(ALICE, 'p256', { ephemeral: true }))).usage).toBe('agree');
    await expect(se.generate(ALICE, 'ed25519', { usage: 'agree' })).rejects.toThrow(/options.usage/);
    await expect(se.generate(ALICE, 'psk256', { usage: 'sign' })).rejects.toThrow(/options.usage/);
    se.close();
  });
});

describe('owners', () => {
  it('an owner-scoped view acts only as its owner and cannot be re-pointed at another', async () => {
    const se = open();
    const alice = se.forOwner(ALICE);
    const mallory = se.forOwner(MALLORY);
    const key = await alice.generate('ed25519');
    expect(alice.owner).toBe(ALICE);
    expect((await se.describe(ALICE, key)).kind).toBe('ed25519');
    const error = await mallory.sign(key, text('x')).catch((e: unknown) => e);
    expect(isCredenceError(error, 'unauthorised') && error.problem.code === 'unauthorised' && error.problem.actor).toBe(MALLORY);
    expect(Object.isFrozen(mallory)).toBe(true);
    expect(() => {
      (mallory as { owner: string }).owner = ALICE;
    }).toThrow(TypeError);
    await expect(mallory.sign(key, text('x'))).rejects.toSatisfy((e) => isCredenceError(e, 'unauthorised'));
    await expect(alice.sign(key, text('x'))).resolves.toHaveLength(64);
    se.close();
  });

  it('opened for a list of owners, it refuses every other owner, directly and through a view', async () => {
    const se = open({ owners: [ALICE] });
    const key: KeyHandle = await se.generate(ALICE, 'psk256');
    await expect(se.generate(MALLORY, 'psk256')).rejects.toSatisfy((e) => isCredenceError(e, 'unauthorised'));
    expect(() => se.forOwner(MALLORY)).toThrow(expect.objectContaining({ code: 'unauthorised' }));
    await expect(se.forOwner(ALICE).mac(key, text('x'))).resolves.toHaveLength(32);
    se.close();
  });
});

describe('seal/open and wrap/unwrap are kept apart (regression: open() returned the key inside a wrap() output)', () => {
  it('a wrapped key cannot be opened as sealed data, whatever AAD the caller gives', async () => {
    const se = open();
    const psk = await se.generate(ALICE, 'psk256', { extractable: true });
    const kek = await se.generate(ALICE, 'x25519', { ephemeral: true });
    const peer = await se.generate(ALICE, 'x25519', { ephemeral: true });
    const secret = await se.agree(ALICE, kek, (await se.describe(ALICE, peer)).publicKey as Uint8Array);
    const session = await se.deriveKey(ALICE, { inputs: [secret], salt: text('s'), info: text('i'), kind: 'session256' });
    const aad = text('delivery');
    const wrapped = await se.wrap(ALICE, psk, session, aad);
    const prefix = text('credence/se/v1/wrap\0psk256\0');
    const guessed = new Uint8Array([...prefix, ...aad]);
    expect(await se.open(ALICE, session, wrapped, guessed)).toBeUndefined();
    expect(await se.open(ALICE, session, wrapped, aad)).toBeUndefined();
    const sealed = await se.seal(ALICE, session, text('hello'), aad);
    expect(new TextDecoder().decode(await se.open(ALICE, session, sealed, aad))).toBe('hello');
    se.close();
  });

  it('bytes a caller sealed cannot be unwrapped as a key of its choosing, whatever AAD it gives', async () => {
    const se = open();
    const mine = await se.generate(ALICE, 'x25519', { ephemeral: true });
    const peer = await se.generate(ALICE, 'x25519', { ephemeral: true });
    const secret = await se.agree(ALICE, mine, (await se.describe(ALICE, peer)).publicKey as Uint8Array);
    const session = await se.deriveKey(ALICE, { inputs: [secret], salt: text('s'), info: text('i'), kind: 'session256' });
    const chosen = new Uint8Array(32).fill(7);
    const aad = text('delivery');
    const prefix = text('credence/se/v1/wrap\0psk256\0');
    for (const sealAad of [aad, new Uint8Array([...prefix, ...aad])]) {
      const sealed = await se.seal(ALICE, session, chosen, sealAad);
      expect(await se.unwrap(ALICE, session, sealed, aad, { kind: 'psk256' })).toBeUndefined();
    }
    se.close();
  });
});
