/**
 * The Secure Environment port's behaviour, held against every implementation (embedded, PKCS#11): run by
 * test/secure-environment-embedded.test.ts and test/pkcs11-secure-environment.test.ts, like the store
 * conformance suite (test/store-conformance/suite.ts). Assertions are about the port only: handles never bytes,
 * owners, one usage per key, destroy, the seal/wrap formats apart, and handles surviving a restart.
 */
import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import type { AgreementGroup } from '../domain/crypto/agreement.ts';
import { publicKeyFingerprint } from '../domain/crypto/fingerprint.ts';
import { verifySignature } from '../domain/crypto/signatures.ts';
import type { KeyHandle, OwnerScopedSecureEnvironment } from '../domain/ports/secure-environment.ts';
import { keyListingConformance } from './secure-environment-key-listing.suite.ts';

export interface ConformingSecureEnvironment extends OwnerScopedSecureEnvironment {
  close(): void;
}

export interface SecureEnvironmentFixture {
  readonly se: ConformingSecureEnvironment;
  /** Closes this instance and opens the same keys afresh, as a process restart would. */
  restart(): ConformingSecureEnvironment;
}

export interface ConformanceTarget {
  readonly name: string;
  /** A Secure Environment with no keys of the owners the suite uses (owners: an allow-list, when given). */
  open(options?: { readonly owners?: readonly string[] }): SecureEnvironmentFixture;
  /** Agreement groups the implementation offers (SoftHSM2 has no X25519 without the host fallback). */
  readonly agreementGroups: readonly AgreementGroup[];
  /**
   * Whether HKDF (deriveKey) and XChaCha20-Poly1305 (seal, open, wrap, unwrap) are offered, or refused as
   * `mechanism_unsupported` (PKCS#11 under x-derivation=token, where no token mechanism runs them: docs/hsm.md).
   * Refused, the tests that need a derived key are skipped and the refusal is asserted instead; seal, open, wrap and
   * unwrap then take only a session256 key, which only deriveKey makes, so they are out of reach rather than refused.
   */
  readonly derivation: 'offered' | 'refused';
}

const text = (s: string) => new TextEncoder().encode(s);
let counter = 0;
/** Fresh owner names per test, so implementations sharing one token never see each other's keys. */
const owners = () => {
  counter += 1;
  return { ALICE: `node:alice-${counter}`, BOB: `node:bob-${counter}`, MALLORY: `node:mallory-${counter}` };
};

const problemOf = async (run: () => Promise<unknown>) => {
  try {
    await run();
  } catch (error) {
    if (isCredenceError(error)) return error.problem;
    throw error;
  }
  throw new Error('expected a CredenceError');
};

const invalidPeer = (group: AgreementGroup) => new Uint8Array(group === 'x25519' ? 32 : 65);

export const secureEnvironmentConformance = (target: ConformanceTarget): void => {
  const withSe = (test: (se: ConformingSecureEnvironment, o: ReturnType<typeof owners>) => Promise<void>) => async () => {
    const { se } = target.open();
    try {
      await test(se, owners());
    } finally {
      se.close();
    }
  };
  const group = target.agreementGroups[0] as AgreementGroup;
  const derives = target.derivation === 'offered';
  const sessionKey = async (se: ConformingSecureEnvironment, owner: string) => {
    const mine = await se.generate(owner, group, { ephemeral: true });
    const peer = await se.generate(owner, group, { ephemeral: true });
    const secret = await se.agree(owner, mine, (await se.describe(owner, peer)).publicKey as Uint8Array);
    return se.deriveKey(owner, { inputs: [secret], salt: text('s'), info: text('i'), kind: 'session256' });
  };

  describe(`Secure Environment conformance: ${target.name}`, () => {
    for (const kind of ['ed25519', 'p256'] as const) {
      it(`${kind}: signs with a handle; the signature verifies under the described public key and its fingerprint`, withSe(async (se, { ALICE }) => {
        const handle = await se.generate(ALICE, kind);
        const description = await se.describe(ALICE, handle);
        expect(description).toMatchObject({ handle, kind, usage: 'sign', ephemeral: false, extractable: false });
        // Only the port's fields: no secret key, scalar or object handle rides along.
        expect(Object.keys(description).sort()).toEqual(['ephemeral', 'extractable', 'fingerprint', 'handle', 'kind', 'publicKey', 'usage']);
        const publicKey = description.publicKey as Uint8Array;
        expect(description.fingerprint).toBe(publicKeyFingerprint(kind, publicKey));
        for (const message of [text('hello'), new Uint8Array(5000).fill(9)]) {
          const signature = await se.sign(ALICE, handle, message);
          expect(signature).toHaveLength(64);
          expect(verifySignature(kind, publicKey, message, signature)).toBe(true);
        }
      }));
    }

    it('two PSK holders compute the same MAC only with the same key, and verifyMac rejects a flipped or short tag', withSe(async (se, { ALICE }) => {
      const psk = await se.generate(ALICE, 'psk256');
      expect(await se.describe(ALICE, psk)).toMatchObject({ kind: 'psk256', ephemeral: false, extractable: false });
      const tag = await se.mac(ALICE, psk, text('transcript'));
      expect(tag).toHaveLength(32);
      expect(await se.mac(ALICE, psk, text('transcript'))).toEqual(tag);
      expect(await se.verifyMac(ALICE, psk, text('transcript'), tag)).toBe(true);
      expect(await se.verifyMac(ALICE, psk, text('transcript'), tag.subarray(0, 16))).toBe(false);
      tag[0] = (tag[0] as number) ^ 1;
      expect(await se.verifyMac(ALICE, psk, text('transcript'), tag)).toBe(false);
      const other = await se.generate(ALICE, 'psk256');
      expect(await se.mac(ALICE, other, text('transcript'))).not.toEqual(await se.mac(ALICE, psk, text('transcript')));
      expect(Object.keys(await se.describe(ALICE, psk)).sort()).toEqual(['ephemeral', 'extractable', 'fingerprint', 'handle', 'kind']);
    }));

    it('an empty message has a MAC like any other: deterministic, verified, and not the tag of another message', withSe(async (se, { ALICE }) => {
      const psk = await se.generate(ALICE, 'psk256');
      const empty = await se.mac(ALICE, psk, new Uint8Array(0));
      expect(empty).toHaveLength(32);
      expect(await se.mac(ALICE, psk, new Uint8Array(0))).toEqual(empty);
      expect(await se.verifyMac(ALICE, psk, new Uint8Array(0), empty)).toBe(true);
      expect(await se.verifyMac(ALICE, psk, text('x'), empty)).toBe(false);
      expect(await se.verifyMac(ALICE, psk, new Uint8Array(0), await se.mac(ALICE, psk, text('x')))).toBe(false);
      // Sessions stay usable afterwards (a failed empty call could leave a PKCS#11 operation active).
      expect(await se.verifyMac(ALICE, psk, text('x'), await se.mac(ALICE, psk, text('x')))).toBe(true);
    }));

    it('macMany, where offered, gives the tags mac gives, in order, and refuses what mac refuses', withSe(async (se, { ALICE, MALLORY }) => {
      if (se.macMany === undefined) return;
      const psk = await se.generate(ALICE, 'psk256');
      const messages = [text('a'), text('b'), new Uint8Array(300).fill(1)];
      expect(await se.macMany(ALICE, psk, messages)).toEqual(await Promise.all(messages.map((m) => se.mac(ALICE, psk, m))));
      expect(await problemOf(() => se.macMany!(MALLORY, psk, messages))).toMatchObject({ code: 'unauthorised' });
      await expect(se.macMany(ALICE, await se.generate(ALICE, 'ed25519'), messages)).rejects.toThrow('handle: a ed25519 key cannot mac');
    }));

    for (const g of target.agreementGroups) {
      it.runIf(derives)(`${g}: agreement on both sides then HKDF gives the same session key, proven by sealing on one side and opening on the other`, withSe(async (se, { ALICE, BOB }) => {
        const a = await se.generate(ALICE, g, { ephemeral: true });
        const b = await se.generate(BOB, g, { ephemeral: true });
        expect(await se.describe(ALICE, a)).toMatchObject({ kind: g, usage: 'agree', ephemeral: true });
        const spec = { salt: text('salt'), info: text('info'), kind: 'session256' as const };
        const keyA = await se.deriveKey(ALICE, { ...spec, inputs: [await se.agree(ALICE, a, (await se.describe(BOB, b)).publicKey as Uint8Array)] });
        const keyB = await se.deriveKey(BOB, { ...spec, inputs: [await se.agree(BOB, b, (await se.describe(ALICE, a)).publicKey as Uint8Array)] });
        expect((await se.describe(ALICE, keyA)).fingerprint).toBe((await se.describe(BOB, keyB)).fingerprint);
        const sealed = await se.seal(ALICE, keyA, text('meter reading 42'), text('aad'));
        expect(new TextDecoder().decode(await se.open(BOB, keyB, sealed, text('aad')))).toBe('meter reading 42');
        expect(await se.open(BOB, keyB, sealed, text('other aad'))).toBeUndefined();
        sealed[30] = (sealed[30] as number) ^ 1;
        expect(await se.open(BOB, keyB, sealed, text('aad'))).toBeUndefined();
      }));

      it(`${g}: a refused peer key for agreement is a typed validation error`, withSe(async (se, { ALICE }) => {
        const a = await se.generate(ALICE, g, { ephemeral: true });
        expect(await problemOf(() => se.agree(ALICE, a, invalidPeer(g)))).toMatchObject({ code: 'validation' });
      }));
    }

    it.runIf(!derives)('where derivation is refused: agreement still gives a secret, and HKDF and X25519 are mechanism_unsupported naming the mechanism', withSe(async (se, { ALICE }) => {
      const a = await se.generate(ALICE, group, { ephemeral: true });
      const b = await se.generate(ALICE, group, { ephemeral: true });
      const secret = await se.agree(ALICE, a, (await se.describe(ALICE, b)).publicKey as Uint8Array);
      expect(await se.describe(ALICE, secret)).toMatchObject({ kind: 'secret', ephemeral: true, extractable: false });
      const refused = { code: 'secure_environment_unsupported', reason: 'mechanism_unsupported' };
      for (const kind of ['session256', 'psk256'] as const) {
        expect(await problemOf(() => se.deriveKey(ALICE, { inputs: [secret], salt: text('s'), info: text('i'), kind }))).toMatchObject({ ...refused, mechanism: 'CKM_HKDF_DERIVE' });
      }
      const psk = await se.generate(ALICE, 'psk256');
      expect(await problemOf(() => se.deriveKey(ALICE, { inputs: [psk], salt: text('s'), info: text('i'), kind: 'session256' }))).toMatchObject(refused);
      expect(target.agreementGroups).not.toContain('x25519');
      expect(await problemOf(() => se.generate(ALICE, 'x25519', { ephemeral: true }))).toMatchObject({ ...refused, mechanism: 'CKM_EC_MONTGOMERY_KEY_PAIR_GEN' });
      expect(await problemOf(() => se.generate(ALICE, 'x25519'))).toMatchObject(refused);
      // Nothing half-made: only the keys generated above are listed.
      expect((await se.listKeys(ALICE)).keys.map((k) => k.kind).sort()).toEqual([group, group, 'psk256', 'secret'].sort());
    }));

    it.runIf(derives)('a PSK travels wrapped: wrap under a shared key, unwrap elsewhere, same fingerprint and same MACs', withSe(async (se, { ALICE }) => {
      const psk = await se.generate(ALICE, 'psk256', { extractable: true });
      const kek = await sessionKey(se, ALICE);
      const wrapped = await se.wrap(ALICE, psk, kek, text('bound'));
      const imported = await se.unwrap(ALICE, kek, wrapped, text('bound'), { kind: 'psk256' });
      expect(imported).toBeDefined();
      expect((await se.describe(ALICE, imported as KeyHandle)).fingerprint).toBe((await se.describe(ALICE, psk)).fingerprint);
      expect(await se.mac(ALICE, imported as KeyHandle, text('m'))).toEqual(await se.mac(ALICE, psk, text('m')));
      expect(await se.unwrap(ALICE, kek, wrapped, text('other'), { kind: 'psk256' })).toBeUndefined();
      expect(await se.unwrap(ALICE, kek, wrapped, text('bound'), { kind: 'session256' })).toBeUndefined();
    }));

    it.runIf(derives)('a non-extractable key cannot be wrapped', withSe(async (se, { ALICE }) => {
      const psk = await se.generate(ALICE, 'psk256');
      const kek = await sessionKey(se, ALICE);
      await expect(se.wrap(ALICE, psk, kek, text(''))).rejects.toThrow('handle: key is not extractable');
    }));

    it('misusing a key kind is a programming error naming the handle', withSe(async (se, { ALICE }) => {
      const psk = await se.generate(ALICE, 'psk256');
      const ed = await se.generate(ALICE, 'ed25519');
      await expect(se.sign(ALICE, psk, text('x'))).rejects.toThrow('handle: a psk256 key cannot sign');
      await expect(se.mac(ALICE, ed, text('x'))).rejects.toThrow('handle: a ed25519 key cannot mac');
      await expect(se.agree(ALICE, ed, new Uint8Array(32))).rejects.toThrow('handle: a ed25519 key cannot agree');
      await expect(se.seal(ALICE, psk, text('x'), text(''))).rejects.toThrow('handle: a psk256 key cannot seal');
    }));

    it('a handle used by anyone but its owner is refused as unauthorised, for every operation', withSe(async (se, { ALICE, MALLORY }) => {
      const ed = await se.generate(ALICE, 'ed25519');
      const psk = await se.generate(ALICE, 'psk256', { extractable: true });
      // Where derivation is refused no session key can be made: the owner is refused before the kind is looked at.
      const kek = derives ? await sessionKey(se, ALICE) : await se.generate(ALICE, 'psk256');
      const attempts: (() => Promise<unknown>)[] = [
        () => se.describe(MALLORY, ed),
        () => se.sign(MALLORY, ed, text('x')),
        () => se.mac(MALLORY, psk, text('x')),
        () => se.verifyMac(MALLORY, psk, text('x'), new Uint8Array(32)),
        () => se.seal(MALLORY, kek, text('x'), text('')),
        () => se.open(MALLORY, kek, new Uint8Array(64), text('')),
        () => se.wrap(MALLORY, psk, kek, text('')),
        () => se.unwrap(MALLORY, kek, new Uint8Array(64), text(''), { kind: 'psk256' }),
        () => se.deriveKey(MALLORY, { inputs: [psk], salt: text('s'), info: text('i'), kind: 'session256' }),
        () => se.destroy(MALLORY, ed),
      ];
      for (const attempt of attempts) expect(await problemOf(attempt)).toMatchObject({ code: 'unauthorised', actor: MALLORY });
      expect((await se.describe(ALICE, ed)).kind).toBe('ed25519');
      const theirs = await se.generate(MALLORY, 'psk256');
      expect(await problemOf(() => se.deriveKey(ALICE, { inputs: [psk, theirs], salt: text('s'), info: text('i'), kind: 'session256' }))).toMatchObject({ code: 'unauthorised' });
    }));

    it('after destroy, every use of the handle fails with not_found; an unknown handle too', withSe(async (se, { ALICE }) => {
      for (const kind of ['ed25519', 'p256', 'psk256'] as const) {
        const key = await se.generate(ALICE, kind);
        await se.describe(ALICE, key);
        await se.destroy(ALICE, key);
        for (const attempt of [() => se.describe(ALICE, key), () => se.destroy(ALICE, key), () => (kind === 'psk256' ? se.mac(ALICE, key, text('x')) : se.sign(ALICE, key, text('x')))]) {
          expect(await problemOf(attempt)).toMatchObject({ code: 'not_found', streamId: key });
        }
      }
      expect(await problemOf(() => se.describe(ALICE, 'key_AAAAAAAAAAAAAAAAAAAAAAAA' as KeyHandle))).toMatchObject({ code: 'not_found' });
    }));

    it('refuses a string no handle could be as a caller mistake, without echoing it', withSe(async (se, { ALICE }) => {
      const marker = `key_${'Z'.repeat(100_000)}`;
      for (const handle of [marker, 'key_short', `key_${'A'.repeat(23)}!`]) {
        for (const attempt of [() => se.describe(ALICE, handle as KeyHandle), () => se.destroy(ALICE, handle as KeyHandle), () => se.mac(ALICE, handle as KeyHandle, text('m'))]) {
          const error = await attempt().then(() => undefined, (e: unknown) => e);
          expect(error).toBeInstanceOf(TypeError);
          expect((error as Error).message).toMatch(/^handle must be a key handle/);
          expect((error as Error).message.length).toBeLessThan(200);
        }
      }
    }));

    it('refuses a kind no key could be as a caller mistake, without echoing it', withSe(async (se, { ALICE }) => {
      const kind = 'Z'.repeat(100_000) as never;
      const psk = await se.generate(ALICE, 'psk256');
      const attempts = [
        () => se.generate(ALICE, kind),
        () => se.generate(ALICE, kind, { usage: 'sign' }),
        () => se.deriveKey(ALICE, { inputs: [psk], kind, salt: new Uint8Array(32), info: text('i') }),
      ];
      for (const attempt of attempts) {
        const error = await attempt().then(() => undefined, (e: unknown) => e);
        expect(error).toBeInstanceOf(TypeError);
        expect((error as Error).message).toContain('unknown kind (a string of 100000 characters)');
        expect((error as Error).message.length).toBeLessThan(200);
      }
    }));

    it('an agreement secret is ephemeral and never extractable; a derived key never leaves', withSe(async (se, { ALICE }) => {
      const a = await se.generate(ALICE, group, { ephemeral: true });
      const b = await se.generate(ALICE, group, { ephemeral: true });
      const secret = await se.agree(ALICE, a, (await se.describe(ALICE, b)).publicKey as Uint8Array);
      expect(await se.describe(ALICE, secret)).toMatchObject({ kind: 'secret', ephemeral: true, extractable: false });
      const spec = { inputs: [secret], salt: text('s'), info: text('i'), kind: 'session256' as const, extractable: true };
      const problem = await problemOf(() => se.deriveKey(ALICE, spec));
      expect(problem.code === 'validation' && problem.issues[0]?.path).toBe('spec.extractable');
    }));

    it('a P-256 key has one usage, fixed at generation; the defaults and refusals hold', withSe(async (se, { ALICE }) => {
      const signing = await se.generate(ALICE, 'p256', { usage: 'sign' });
      const agreement = await se.generate(ALICE, 'p256', { usage: 'agree' });
      const peer = (await se.describe(ALICE, agreement)).publicKey as Uint8Array;
      expect(await se.describe(ALICE, agreement)).toMatchObject({ kind: 'p256', usage: 'agree' });
      await expect(se.agree(ALICE, signing, peer)).rejects.toThrow(/handle: .*p256 key .*sign.* cannot agree/);
      await expect(se.sign(ALICE, agreement, text('x'))).rejects.toThrow(/handle: .*p256 key .*agree.* cannot sign/);
      expect((await se.describe(ALICE, await se.generate(ALICE, 'p256', { ephemeral: true }))).usage).toBe('agree');
      await expect(se.generate(ALICE, 'ed25519', { usage: 'agree' })).rejects.toThrow(/options.usage/);
      await expect(se.generate(ALICE, 'psk256', { usage: 'sign' })).rejects.toThrow(/options.usage/);
    }));

    it('a signing key\'s private half never leaves, nor comes in: not generated extractable, not unwrapped, not derived', withSe(async (se, { ALICE }) => {
      // Found in review: the embedded one let a P-256 signing key be generated extractable, wrapped, and unwrapped
      // "for agreement" (the wrap format binds the kind, not the usage): one private key with both usages.
      for (const kind of ['ed25519', 'p256'] as const) {
        expect(await problemOf(() => se.generate(ALICE, kind, { extractable: true }))).toMatchObject({ code: 'validation', issues: [expect.objectContaining({ path: 'options.extractable' })] });
      }
      const psk = await se.generate(ALICE, 'psk256', { extractable: true });
      for (const kind of ['ed25519', 'p256', 'x25519', 'secret']) {
        await expect(se.deriveKey(ALICE, { inputs: [psk], salt: text('s'), info: text('i'), kind: kind as never })).rejects.toThrow(/spec\.kind: cannot derive/);
      }
      if (!derives) return;
      const session = await sessionKey(se, ALICE);
      const wrapped = await se.wrap(ALICE, psk, session, text('x'));
      for (const spec of [{ kind: 'p256' as const, usage: 'agree' as const }, { kind: 'p256' as const }, { kind: 'ed25519' as const }]) {
        expect(await problemOf(() => se.unwrap(ALICE, session, wrapped, text('x'), spec))).toMatchObject({ code: 'validation', issues: [expect.objectContaining({ path: 'spec.kind' })] });
      }
    }));

    it('an owner-scoped view acts only as its owner; an allow-list refuses every other owner', async () => {
      const { ALICE, MALLORY } = owners();
      const { se } = target.open({ owners: [ALICE] });
      try {
        const alice = se.forOwner(ALICE);
        expect(Object.isFrozen(alice)).toBe(true);
        const key = await alice.generate('ed25519');
        await expect(alice.sign(key, text('x'))).resolves.toHaveLength(64);
        await expect(se.generate(MALLORY, 'psk256')).rejects.toSatisfy((e) => isCredenceError(e, 'unauthorised'));
        expect(() => se.forOwner(MALLORY)).toThrow(expect.objectContaining({ code: 'unauthorised' }));
      } finally {
        se.close();
      }
    });

    it.runIf(derives)('a wrapped key cannot be opened as sealed data, and sealed bytes cannot be unwrapped as a key, whatever the AAD', withSe(async (se, { ALICE }) => {
      const psk = await se.generate(ALICE, 'psk256', { extractable: true });
      const session = await sessionKey(se, ALICE);
      const aad = text('delivery');
      const prefixed = new Uint8Array([...text('credence/se/v1/wrap\0psk256\0'), ...aad]);
      const wrapped = await se.wrap(ALICE, psk, session, aad);
      expect(await se.open(ALICE, session, wrapped, prefixed)).toBeUndefined();
      expect(await se.open(ALICE, session, wrapped, aad)).toBeUndefined();
      for (const sealAad of [aad, prefixed]) {
        const sealed = await se.seal(ALICE, session, new Uint8Array(32).fill(7), sealAad);
        expect(await se.unwrap(ALICE, session, sealed, aad, { kind: 'psk256' })).toBeUndefined();
      }
    }));

    it('stored keys and their owner binding survive a restart; ephemeral and destroyed keys do not', async () => {
      const { ALICE, MALLORY } = owners();
      const fixture = target.open();
      const se = fixture.se;
      const ed = await se.generate(ALICE, 'ed25519');
      const p256 = await se.generate(ALICE, 'p256');
      const psk = await se.generate(ALICE, 'psk256');
      const gone = await se.generate(ALICE, 'ed25519');
      const ephemeral = await se.generate(ALICE, group, { ephemeral: true });
      const before = { ed: await se.describe(ALICE, ed), p256: await se.describe(ALICE, p256), psk: await se.describe(ALICE, psk), tag: await se.mac(ALICE, psk, text('m')) };
      await se.destroy(ALICE, gone);
      const again = fixture.restart();
      try {
        expect(await again.describe(ALICE, ed)).toEqual(before.ed);
        expect(await again.describe(ALICE, psk)).toEqual(before.psk);
        expect(verifySignature('ed25519', before.ed.publicKey as Uint8Array, text('after'), await again.sign(ALICE, ed, text('after')))).toBe(true);
        expect(verifySignature('p256', before.p256.publicKey as Uint8Array, text('after'), await again.sign(ALICE, p256, text('after')))).toBe(true);
        expect(await again.mac(ALICE, psk, text('m'))).toEqual(before.tag);
        expect(await problemOf(() => again.sign(MALLORY, ed, text('x')))).toMatchObject({ code: 'unauthorised' });
        expect(await problemOf(() => again.describe(ALICE, ephemeral))).toMatchObject({ code: 'not_found' });
        expect(await problemOf(() => again.describe(ALICE, gone))).toMatchObject({ code: 'not_found' });
      } finally {
        again.close();
      }
    });

    it('the longest owner name keeps its keys across a restart, characters JSON escapes included; a longer one is refused', async () => {
      // Found in review: a PKCS#11 label did not read back for such an owner, so after a restart its key could be
      // neither used nor destroyed (crypto-shredding found it "already gone" and left it in the token).
      const { ALICE } = owners();
      const base = `${ALICE}-`;
      const longest = base + '"\u0001'.repeat((1024 - base.length) >> 1) + 'x'.repeat((1024 - base.length) & 1);
      expect(longest).toHaveLength(1024);
      const fixture = target.open();
      const key = await fixture.se.generate(longest, 'psk256');
      const tag = await fixture.se.mac(longest, key, text('m'));
      expect(await problemOf(() => fixture.se.generate(`${longest}x`, 'psk256'))).toMatchObject({ code: 'validation', issues: [expect.objectContaining({ path: 'owner' })] });
      const again = fixture.restart();
      try {
        expect(await again.mac(longest, key, text('m'))).toEqual(tag);
        await again.destroy(longest, key);
        expect(await problemOf(() => again.mac(longest, key, text('m')))).toMatchObject({ code: 'not_found' });
      } finally {
        again.close();
      }
    });

    keyListingConformance(target, { owners, withSe });
  });
};
