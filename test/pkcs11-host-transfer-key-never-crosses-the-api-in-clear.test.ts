/**
 * Review 83, finding 1: under `x-derivation=host` the transfer key (the AES key every host-held key is wrapped
 * under as it crosses the PKCS#11 API, RFC 5649) was itself made with C_CreateObject from 32 random bytes passed as
 * a plain CKA_VALUE, so anyone watching the calls (a network HSM's wire) took it from that call and unwrapped every
 * later C_WrapKey output: a PSK recovered that way reproduced the token's HMAC. It was also the one object not made
 * `fixed` (CKA_MODIFIABLE, CKA_COPYABLE true). Now it is agreed by ECDH over P-256 (an ephemeral pair in the token,
 * one in the host, C_DeriveKey): only public points cross the API. Every PKCS#11 call of the session is recorded
 * here and attacked as the review did.
 */
import { createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { rejection } from './support/pin-free-rejection.ts';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { pkcs11js, type Pkcs11, type Pkcs11Handle, type Pkcs11Template } from '../adapters/driven/secure-environment/pkcs11/module.ts';
import { acquireSharedModule, releaseModule } from '../adapters/driven/secure-environment/pkcs11/shared-module.ts';
import { softHsm, softHsmMissing, SOFTHSM_MODULE } from './support/softhsm.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));
const text = (s: string) => new TextEncoder().encode(s);
const OWNER = 'maf:infrastructure';

interface Call {
  readonly name: string;
  readonly args: unknown[];
  readonly result: unknown;
}

/** A copy taken at the call (pkcs11js fills output buffers in place, and callers wipe theirs after). */
const copy = (value: unknown): unknown => {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value);
  if (Array.isArray(value)) return value.map(copy);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copy(v)]));
  return value;
};

/** Every C_* function of the module, recorded (arguments and result) and run for real. */
const recordCalls = (module: Pkcs11): Call[] => {
  const calls: Call[] = [];
  const names = new Set<string>();
  // pkcs11js's class extends the native binding's: the C_* functions sit on both prototypes.
  for (let proto = Object.getPrototypeOf(module); proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) if (/^C_[A-Za-z]+$/.test(name)) names.add(name);
  }
  for (const name of names) {
    // Already replaced by the test (a token lacking a mechanism): recorded through that replacement's own caller.
    if (vi.isMockFunction((module as unknown as Record<string, unknown>)[name])) continue;
    const real = (module as unknown as Record<string, (...args: unknown[]) => unknown>)[name]!.bind(module);
    vi.spyOn(module as unknown as Record<string, (...args: unknown[]) => unknown>, name).mockImplementation((...args: unknown[]) => {
      const before = copy(args) as unknown[];
      const result = real(...args);
      calls.push({ name, args: before, result: copy(result) });
      return result;
    });
  }
  return calls;
};

const buffersIn = (value: unknown, into: Buffer[] = []): Buffer[] => {
  if (Buffer.isBuffer(value)) into.push(value);
  else if (Array.isArray(value)) value.forEach((v) => buffersIn(v, into));
  else if (value !== null && typeof value === 'object') Object.values(value).forEach((v) => buffersIn(v, into));
  return into;
};

/** Attributes in any template a call carried whose type is CKA_VALUE and that have a value: key bytes in clear. */
const clearValues = (calls: readonly Call[]) =>
  calls.flatMap(({ name, args }) =>
    args
      .filter((arg): arg is Pkcs11Template => Array.isArray(arg))
      .flat()
      .filter((attribute) => attribute?.type === pkcs11js.CKA_VALUE && attribute.value !== undefined)
      .map(() => name),
  );

/** What an eavesdropper unwraps: RFC 5649 under every 32-byte window of every byte string seen on the API. */
const recoveredKeys = (calls: readonly Call[]): Buffer[] => {
  const wrapped = [
    ...calls.filter((c) => c.name === 'C_WrapKey').map((c) => c.result as Buffer),
    ...calls.filter((c) => c.name === 'C_UnwrapKey').map((c) => c.args[3] as Buffer),
  ];
  const candidates = new Map<string, Buffer>();
  for (const bytes of calls.flatMap((c) => buffersIn([c.args, c.result]))) {
    for (let at = 0; at + 32 <= bytes.length; at += 1) candidates.set(bytes.subarray(at, at + 32).toString('hex'), bytes.subarray(at, at + 32));
  }
  const recovered: Buffer[] = [];
  for (const blob of wrapped) {
    for (const key of candidates.values()) {
      try {
        const decipher = createDecipheriv('id-aes256-wrap-pad', key, Buffer.from('a65959a6', 'hex'));
        recovered.push(Buffer.concat([decipher.update(blob), decipher.final()]));
      } catch {
        // Not the key (the RFC 5649 integrity check failed).
      }
    }
  }
  return recovered;
};

const bool = (value: unknown) => Buffer.isBuffer(value) && value.length === 1 && value[0] === 1;
const attributes = (module: Pkcs11, session: Pkcs11Handle, object: Pkcs11Handle, names: readonly (keyof typeof pkcs11js)[]) =>
  Object.fromEntries(module.C_GetAttributeValue(session, object, names.map((n) => ({ type: pkcs11js[n] as number }))).map((a, i) => [names[i], bool(a.value)]));

describe.skipIf(softHsmMissing !== undefined)('PKCS#11 x-derivation=host: the transfer key never crosses the API in clear', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  afterEach(() => {
    vi.restoreAllMocks();
  });
  const token = hsm.token('transfer');

  it('generate an extractable PSK, derive from it, wrap it: no call carries key bytes, no key recovered from the calls reproduces its HMAC', async () => {
    const { module, key: moduleKey } = acquireSharedModule(SOFTHSM_MODULE);
    const calls = recordCalls(module);
    const se = Pkcs11SecureEnvironment.open({ uri: token.uri('x-derivation=host') }, { random });
    try {
      const psk = await se.generate(OWNER, 'psk256', { extractable: true });
      const session = await se.deriveKey(OWNER, { inputs: [psk], salt: text('salt'), info: text('info'), kind: 'session256' });
      await se.wrap(OWNER, psk, session, text('aad'));
      const tag = await se.mac(OWNER, psk, text('message'));

      // The PSK did cross the API, wrapped (otherwise this proves nothing).
      expect(calls.filter((c) => c.name === 'C_WrapKey').length).toBeGreaterThan(0);
      expect(clearValues(calls)).toEqual([]);
      const reproducing = recoveredKeys(calls).filter((key) => timingSafeEqual(createHmac('sha256', key).update('message').digest(), Buffer.from(tag)));
      expect(reproducing).toHaveLength(0);

      // The transfer key (the one every C_WrapKey wrapped under) reads back fixed, sensitive, for wrapping only.
      const wrap = calls.find((c) => c.name === 'C_WrapKey')!;
      const [sessionHandle, , transferKey] = wrap.args as [Pkcs11Handle, unknown, Pkcs11Handle];
      expect(
        attributes(module, sessionHandle, transferKey, [
          'CKA_TOKEN', 'CKA_MODIFIABLE', 'CKA_COPYABLE', 'CKA_SENSITIVE', 'CKA_EXTRACTABLE', 'CKA_WRAP', 'CKA_UNWRAP',
          'CKA_ENCRYPT', 'CKA_DECRYPT', 'CKA_SIGN', 'CKA_VERIFY', 'CKA_DERIVE',
        ]),
      ).toEqual({
        CKA_TOKEN: false, CKA_MODIFIABLE: false, CKA_COPYABLE: false, CKA_SENSITIVE: true, CKA_EXTRACTABLE: false, CKA_WRAP: true, CKA_UNWRAP: true,
        CKA_ENCRYPT: false, CKA_DECRYPT: false, CKA_SIGN: false, CKA_VERIFY: false, CKA_DERIVE: false,
      });

      // It came from the token's ECDH with an ephemeral session pair whose private half could only derive, and that
      // pair is gone once the transfer key exists.
      const pairs = calls.filter((c) => c.name === 'C_GenerateKeyPair');
      expect(pairs).toHaveLength(1);
      const privateTemplate = pairs[0]!.args[3] as Pkcs11Template;
      const value = (type: number) => privateTemplate.find((a) => a.type === type)?.value;
      expect(
        [pkcs11js.CKA_TOKEN, pkcs11js.CKA_SENSITIVE, pkcs11js.CKA_EXTRACTABLE, pkcs11js.CKA_DERIVE, pkcs11js.CKA_SIGN, pkcs11js.CKA_DECRYPT, pkcs11js.CKA_UNWRAP].map(value),
      ).toEqual([false, true, false, true, false, false, false]);
      const { privateKey, publicKey } = pairs[0]!.result as { privateKey: Buffer; publicKey: Buffer };
      const destroyed = calls.filter((c) => c.name === 'C_DestroyObject').map((c) => (c.args[1] as Buffer).toString('hex'));
      expect(destroyed).toEqual(expect.arrayContaining([privateKey.toString('hex'), publicKey.toString('hex')]));
      const derive = calls.find((c) => c.name === 'C_DeriveKey')!;
      expect((derive.args[1] as { mechanism: number }).mechanism).toBe(pkcs11js.CKM_ECDH1_DERIVE);
      expect((derive.result as Buffer).toString('hex')).toBe(transferKey.toString('hex'));
    } finally {
      se.close();
      releaseModule(moduleKey);
    }
  });

  it("a C_DeriveKey the token fails leaves none of the agreement's objects behind, and the next host operation agrees afresh", async () => {
    const { module, key: moduleKey } = acquireSharedModule(SOFTHSM_MODULE);
    vi.spyOn(module, 'C_DeriveKey').mockImplementationOnce(() => {
      throw new pkcs11js.Pkcs11Error('CKR_FUNCTION_FAILED:6', 0x6, 'C_DeriveKey');
    });
    const calls = recordCalls(module);
    const se = Pkcs11SecureEnvironment.open({ uri: token.uri('x-derivation=host') }, { random });
    try {
      const psk = await se.generate(OWNER, 'psk256');
      const derive = () => se.deriveKey(OWNER, { inputs: [psk], salt: text('s'), info: text('i'), kind: 'session256' });
      // A fault of the token, not the caller's (review 147: it was `token`/`token_error`, a 400).
      expect((await derive().then(() => undefined, (e: unknown) => e) as { problem?: unknown }).problem).toMatchObject({
        code: 'secure_environment_unavailable',
        reason: 'device_error',
        returnValue: 'CKR_FUNCTION_FAILED',
      });
      const [pair] = calls.filter((c) => c.name === 'C_GenerateKeyPair');
      const { privateKey, publicKey } = pair!.result as { privateKey: Buffer; publicKey: Buffer };
      const destroyed = calls.filter((c) => c.name === 'C_DestroyObject').map((c) => (c.args[1] as Buffer).toString('hex'));
      expect(destroyed).toEqual(expect.arrayContaining([privateKey.toString('hex'), publicKey.toString('hex')]));
      const session = pair!.args[0] as Pkcs11Handle;
      module.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_TOKEN, value: false }, { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC }]);
      const left = module.C_FindObjects(session, 8);
      module.C_FindObjectsFinal(session);
      expect(left).toEqual([]);
      await expect(derive()).resolves.toMatch(/^key_/);
      expect(calls.filter((c) => c.name === 'C_GenerateKeyPair')).toHaveLength(2);
    } finally {
      se.close();
      releaseModule(moduleKey);
    }
  });

  for (const mechanism of ['CKM_ECDH1_DERIVE', 'CKM_EC_KEY_PAIR_GEN'] as const) {
    it(`a token without ${mechanism} refuses host operations naming it, and never falls back to a key in clear`, async () => {
      const { module, key: moduleKey } = acquireSharedModule(SOFTHSM_MODULE);
      const list = module.C_GetMechanismList.bind(module);
      vi.spyOn(module, 'C_GetMechanismList').mockImplementation((slot) => list(slot).filter((m) => m !== pkcs11js[mechanism]));
      const calls = recordCalls(module);
      const se = Pkcs11SecureEnvironment.open({ uri: token.uri('x-derivation=host') }, { random });
      try {
        const psk = await se.generate(OWNER, 'psk256');
        const before = hsm.listObjects(token);
        const issue = await rejection(() => se.deriveKey(OWNER, { inputs: [psk], salt: text('s'), info: text('i'), kind: 'session256' }));
        expect(issue).toMatchObject({ path: 'mechanism', rule: 'mechanism_unsupported' });
        expect(issue?.message).toContain(`mechanism_unsupported: ${mechanism}`);
        expect(clearValues(calls)).toEqual([]);
        expect(calls.filter((c) => c.name === 'C_WrapKey' || c.name === 'C_UnwrapKey')).toEqual([]);
        expect(hsm.listObjects(token)).toBe(before);
        await expect(se.mac(OWNER, psk, text('m'))).resolves.toHaveLength(32);
      } finally {
        se.close();
        releaseModule(moduleKey);
      }
    });
  }
});
