/**
 * Issue 16 (SER-023): what the PKCS#11 Secure Environment does in the token itself, seen from outside the process
 * (pkcs11-tool): keys generated inside as sensitive and never extractable, a destroyed key gone from the token,
 * and typed errors for a wrong PIN, a missing token, a missing module file, a missing mechanism (the host transfer's
 * CKM_AES_KEY_WRAP_PAD too), a PIN in the URI.
 * No error message carries the PIN.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync } from 'node:fs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { pkcs11js } from '../adapters/driven/secure-environment/pkcs11/module.ts';
import { acquireSharedModule, releaseModule } from '../adapters/driven/secure-environment/pkcs11/shared-module.ts';
import { rejection } from './support/pin-free-rejection.ts';
import { softHsm, softHsmMissing, SOFTHSM_MODULE } from './support/softhsm.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));
const text = (s: string) => new TextEncoder().encode(s);
const OWNER = 'maf:infrastructure';
const hex = (handle: string) => Buffer.from(handle, 'utf8').toString('hex');

/** The validation issue a refusal carries (rule, path, message), after checking no PIN is in it. */
const refusal = (run: () => unknown, pins: readonly string[]) => {
  try {
    run();
  } catch (error) {
    if (!isCredenceError(error, 'validation') || error.problem.code !== 'validation') throw error;
    for (const pin of pins) expect(`${error.message} ${JSON.stringify(error.problem)} ${error.stack}`).not.toContain(pin);
    return error.problem.issues[0];
  }
  throw new Error('expected a refusal');
};

describe.skipIf(softHsmMissing !== undefined)('PKCS#11 Secure Environment in the token', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('behaviour');
  const other = hsm.token('other');

  it('generates signing keys inside the token as sensitive and never extractable; destroy removes them from the token', async () => {
    const se = Pkcs11SecureEnvironment.open({ uri: token.uri() }, { random });
    try {
      const ed = await se.generate(OWNER, 'ed25519');
      const p256 = await se.generate(OWNER, 'p256');
      const psk = await se.generate(OWNER, 'psk256');
      const listing = hsm.listObjects(token);
      for (const handle of [ed, p256, psk]) expect(listing).toContain(hex(handle));
      const edPrivate = listing.split(/\n(?=\S)/).find((block) => block.startsWith('Private Key Object') && block.includes(hex(ed))) ?? '';
      expect(edPrivate).toMatch(/Access:\s+sensitive, always sensitive, never extractable, local/);
      await se.destroy(OWNER, ed);
      await se.destroy(OWNER, psk);
      const after = hsm.listObjects(token);
      expect(after).not.toContain(hex(ed));
      expect(after).not.toContain(hex(psk));
      expect(after).toContain(hex(p256));
    } finally {
      se.close();
    }
  });

  it('a wrong PIN is refused as pin_incorrect (CKR_PIN_INCORRECT), naming the source and never the PIN', () => {
    const wrong = randomBytes(12).toString('hex');
    const issue = refusal(() => Pkcs11SecureEnvironment.open({ uri: other.uri().replace(/&pin-source=[^&]*/, '') }, { random, env: { CREDENCE_PKCS11_PIN: wrong } }), [wrong, other.pin]);
    expect(issue).toMatchObject({ path: 'pin-source', rule: 'pin_incorrect' });
    expect(issue?.message).toContain('CREDENCE_PKCS11_PIN');
    // The right PIN from the environment variable opens it.
    Pkcs11SecureEnvironment.open({ uri: other.uri().replace(/&pin-source=[^&]*/, '') }, { random, env: { CREDENCE_PKCS11_PIN: other.pin } }).close();
  });

  it('a PIN other than the one that logged in is refused while another Secure Environment of this process is logged in to the token', () => {
    const uri = other.uri().replace(/&pin-source=[^&]*/, '');
    const open = Pkcs11SecureEnvironment.open({ uri }, { random, env: { CREDENCE_PKCS11_PIN: other.pin } });
    try {
      // PKCS#11 login is per application: the token itself would answer CKR_USER_ALREADY_LOGGED_IN to any PIN. It cannot
      // say whether this one is wrong or a changed PIN (review 116): refused as unverified, never let through.
      const wrong = randomBytes(12).toString('hex');
      expect(refusal(() => Pkcs11SecureEnvironment.open({ uri }, { random, env: { CREDENCE_PKCS11_PIN: wrong } }), [wrong, other.pin])).toMatchObject({ path: 'pin-source', rule: 'pin_unverified' });
      Pkcs11SecureEnvironment.open({ uri }, { random, env: { CREDENCE_PKCS11_PIN: other.pin } }).close();
    } finally {
      open.close();
    }
  });

  it('a key object planted under a handle by someone with the PIN is refused, never used in place of the key', async () => {
    const label = `credence/se/1 ${JSON.stringify({ owner: OWNER, kind: 'psk256', extractable: false, host: false })}`;
    const known = new Uint8Array(32).fill(7);
    const se = Pkcs11SecureEnvironment.open({ uri: token.uri() }, { random });
    try {
      // A second object under a live handle: which one is the key is ambiguous, so neither is used.
      const twice = await se.generate(OWNER, 'psk256');
      hsm.plantSecretKey(token, { id: twice, label, value: known });
      const fresh = Pkcs11SecureEnvironment.open({ uri: token.uri() }, { random });
      try {
        expect(await rejection(() => fresh.mac(OWNER, twice, text('m')))).toMatchObject({ path: 'token', rule: 'token_integrity' });
      } finally {
        fresh.close();
      }
      // A key of known value in place of a destroyed one: not generated in the token (CKA_LOCAL false), refused.
      const replaced = await se.generate(OWNER, 'psk256');
      await se.destroy(OWNER, replaced);
      hsm.plantSecretKey(token, { id: replaced, label, value: known });
      expect(await rejection(() => se.mac(OWNER, replaced, text('m')))).toMatchObject({ path: 'token', rule: 'token_integrity' });
    } finally {
      se.close();
    }
  });

  it('a missing token, a missing module file, a PIN in the URI, no PIN and a readable PIN file are typed refusals', () => {
    const pins = [token.pin];
    expect(refusal(() => Pkcs11SecureEnvironment.open({ uri: token.uri().replace('token=behaviour', 'token=absent') }, { random }), pins)).toMatchObject({ path: 'token', rule: 'token_present' });
    expect(refusal(() => Pkcs11SecureEnvironment.open({ uri: token.uri().replace(SOFTHSM_MODULE, '/nonexistent/libpkcs11.so') }, { random }), pins)).toMatchObject({ path: 'module-path', rule: 'module_file' });
    expect(refusal(() => Pkcs11SecureEnvironment.open({ uri: `${token.uri()}&pin-value=${token.pin}` }, { random }), pins)).toMatchObject({ path: 'pin-value', rule: 'refused_attribute' });
    expect(refusal(() => Pkcs11SecureEnvironment.open({ uri: token.uri().replace(/&pin-source=[^&]*/, '') }, { random, env: {} }), pins)).toMatchObject({ path: 'pin-source', rule: 'pin_present' });
    expect(refusal(() => Pkcs11SecureEnvironment.open({ uri: token.uri('x-derivation=hostile') }, { random }), pins)).toMatchObject({ path: 'x-derivation' });
    expect(refusal(() => Pkcs11SecureEnvironment.open({ uri: 'pkcs11:object=k?module-path=/x' }, { random }), pins)).toMatchObject({ path: 'object', rule: 'refused_attribute' });
    expect(refusal(() => Pkcs11SecureEnvironment.open({ uri: `pkcs11:token=${'t'.repeat(33)}?module-path=/x` }, { random }), pins)).toMatchObject({ path: 'token', rule: 'too_big' });
    chmodSync(token.pinFile, 0o644);
    try {
      expect(refusal(() => Pkcs11SecureEnvironment.open({ uri: token.uri() }, { random }), pins)).toMatchObject({ path: 'pin-source', rule: 'pin_file' });
    } finally {
      chmodSync(token.pinFile, 0o600);
    }
  });

  it('without x-derivation=host, what the token lacks is refused as mechanism_unsupported naming the mechanism, and writes nothing', async () => {
    const se = Pkcs11SecureEnvironment.open({ uri: token.uri() }, { random });
    try {
      const psk = await se.generate(OWNER, 'psk256');
      const before = hsm.listObjects(token);
      const cases: [() => Promise<unknown>, string][] = [
        [() => se.generate(OWNER, 'x25519'), 'CKM_EC_MONTGOMERY_KEY_PAIR_GEN'],
        [() => se.deriveKey(OWNER, { inputs: [psk], salt: text('s'), info: text('i'), kind: 'session256' }), 'CKM_HKDF_DERIVE'],
      ];
      for (const [run, mechanism] of cases) {
        const issue = await rejection(run);
        expect(issue).toMatchObject({ path: 'mechanism', rule: 'mechanism_unsupported' });
        expect(issue?.message).toContain(`mechanism_unsupported: ${mechanism}`);
      }
      expect(hsm.listObjects(token)).toBe(before);
      // What the token has still works: HMAC in the token, and P-256 ECDH into a secret that stays there.
      await expect(se.mac(OWNER, psk, text('m'))).resolves.toHaveLength(32);
      const mine = await se.generate(OWNER, 'p256', { ephemeral: true });
      const secret = await se.agree(OWNER, mine, (await se.describe(OWNER, await se.generate(OWNER, 'p256', { ephemeral: true }))).publicKey as Uint8Array);
      expect(await se.describe(OWNER, secret)).toMatchObject({ kind: 'secret', ephemeral: true, extractable: false });
      expect(await rejection(() => se.deriveKey(OWNER, { inputs: [secret], salt: text('s'), info: text('i'), kind: 'session256' }))).toMatchObject({ rule: 'mechanism_unsupported' });
    } finally {
      se.close();
    }
  });

  it('under x-derivation=host, a token without CKM_AES_KEY_WRAP_PAD (the host transfer) is refused naming it, and writes nothing', async () => {
    // The module as a token lacking the mechanism lists it: SoftHSM2's own list without CKM_AES_KEY_WRAP_PAD.
    const { module, key: moduleKey } = acquireSharedModule(SOFTHSM_MODULE);
    const list = module.C_GetMechanismList.bind(module);
    const mechanisms = vi.spyOn(module, 'C_GetMechanismList').mockImplementation((slot) => list(slot).filter((m) => m !== pkcs11js.CKM_AES_KEY_WRAP_PAD));
    const se = Pkcs11SecureEnvironment.open({ uri: token.uri('x-derivation=host') }, { random });
    try {
      const psk = await se.generate(OWNER, 'psk256');
      const before = hsm.listObjects(token);
      for (const run of [() => se.generate(OWNER, 'x25519'), () => se.deriveKey(OWNER, { inputs: [psk], salt: text('s'), info: text('i'), kind: 'session256' })]) {
        const issue = await rejection(run);
        expect(issue).toMatchObject({ path: 'mechanism', rule: 'mechanism_unsupported' });
        expect(issue?.message).toContain('mechanism_unsupported: CKM_AES_KEY_WRAP_PAD');
      }
      expect(hsm.listObjects(token)).toBe(before);
      await expect(se.mac(OWNER, psk, text('m'))).resolves.toHaveLength(32);
    } finally {
      se.close();
      mechanisms.mockRestore();
      releaseModule(moduleKey);
    }
  });

  it("a token that refuses a key's template (a CKA_LABEL longer than it allows) is template_refused, naming the call and the label's length", async () => {
    const { module, key: moduleKey } = acquireSharedModule(SOFTHSM_MODULE);
    // What a token with a short CKA_LABEL limit answers (SoftHSM2 has no limit): CKR_ATTRIBUTE_VALUE_INVALID, once.
    const generates = vi.spyOn(module, 'C_GenerateKeyPair').mockImplementationOnce(() => {
      throw new pkcs11js.Pkcs11Error('CKR_ATTRIBUTE_VALUE_INVALID:19', 0x13, 'C_GenerateKeyPair');
    });
    const se = Pkcs11SecureEnvironment.open({ uri: token.uri() }, { random });
    try {
      const issue = await rejection(() => se.generate(OWNER, 'ed25519'));
      expect(issue).toMatchObject({ path: 'token', rule: 'template_refused' });
      expect(issue?.message).toContain('C_GenerateKeyPair failed: CKR_ATTRIBUTE_VALUE_INVALID');
      // credence/se/1 {"owner":"maf:infrastructure","kind":"ed25519","usage":"sign","extractable":false,"host":false}
      expect(issue?.message).toContain('CKA_LABEL is 109 bytes');
      await expect(se.generate(OWNER, 'ed25519')).resolves.toMatch(/^key_/);
    } finally {
      se.close();
      generates.mockRestore();
      releaseModule(moduleKey);
    }
  });

  it('a key made without the host fallback stays in the token when the fallback is turned on later', async () => {
    const tokenOnly = Pkcs11SecureEnvironment.open({ uri: token.uri() }, { random });
    const psk = await tokenOnly.generate(OWNER, 'psk256');
    const tag = await tokenOnly.mac(OWNER, psk, text('m'));
    tokenOnly.close();
    const host = Pkcs11SecureEnvironment.open({ uri: token.uri('x-derivation=host') }, { random });
    try {
      expect(await host.mac(OWNER, psk, text('m'))).toEqual(tag);
      expect(await rejection(() => host.deriveKey(OWNER, { inputs: [psk], salt: text('s'), info: text('i'), kind: 'session256' }))).toMatchObject({ path: 'handle', rule: 'host_key' });
    } finally {
      host.close();
    }
  });

  it('keys never leave the token: an extractable signing key and an imported private key are refused; an empty message is a named mistake', async () => {
    const se = Pkcs11SecureEnvironment.open({ uri: token.uri('x-derivation=host') }, { random });
    try {
      expect(await rejection(() => se.generate(OWNER, 'ed25519', { extractable: true }))).toMatchObject({ path: 'options.extractable' });
      const ed = await se.generate(OWNER, 'ed25519');
      await expect(se.sign(OWNER, ed, new Uint8Array(0))).rejects.toThrow(/^message: /);
      await expect(se.sign(OWNER, ed, text('still usable'))).resolves.toHaveLength(64);
      const kek = await se.deriveKey(OWNER, { inputs: [await se.generate(OWNER, 'psk256')], salt: text('s'), info: text('i'), kind: 'session256' });
      expect(await rejection(() => se.unwrap(OWNER, kek, new Uint8Array(72), text(''), { kind: 'p256' }))).toMatchObject({ path: 'spec.kind', rule: 'private_key_import' });
    } finally {
      se.close();
    }
  });
});
