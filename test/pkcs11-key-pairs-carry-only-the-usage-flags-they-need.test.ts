/**
 * SER-023, review 83 finding 3: a key pair generated in the token set only CKA_SIGN / CKA_DERIVE on its private half
 * and CKA_VERIFY on its public half; every other usage flag took the token's default, which on SoftHSM2 is true
 * (private: CKA_DECRYPT, CKA_UNWRAP, CKA_SIGN_RECOVER; public: CKA_ENCRYPT, CKA_WRAP, CKA_VERIFY_RECOVER). Now each
 * usage flag the key does not need is set false in its template, read back here from the token for every kind of key
 * pair. A key pair made by an earlier version, with the token's defaults, is still found and still serves.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { verifySignature } from '../domain/crypto/signatures.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { pkcs11js, type Pkcs11, type Pkcs11Handle } from '../adapters/driven/secure-environment/pkcs11/module.ts';
import { CKM_EC_EDWARDS_KEY_PAIR_GEN, ED25519_PARAMS, fixed, identity, secretAttributes } from '../adapters/driven/secure-environment/pkcs11/token-objects.ts';
import { softHsm, softHsmMissing, withSoftHsmModule, type TestToken } from './support/softhsm.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));
const text = (s: string) => new TextEncoder().encode(s);

const FLAGS = {
  CKA_SIGN: pkcs11js.CKA_SIGN,
  CKA_VERIFY: pkcs11js.CKA_VERIFY,
  CKA_DERIVE: pkcs11js.CKA_DERIVE,
  CKA_DECRYPT: pkcs11js.CKA_DECRYPT,
  CKA_ENCRYPT: pkcs11js.CKA_ENCRYPT,
  CKA_UNWRAP: pkcs11js.CKA_UNWRAP,
  CKA_WRAP: pkcs11js.CKA_WRAP,
  CKA_SIGN_RECOVER: pkcs11js.CKA_SIGN_RECOVER,
  CKA_VERIFY_RECOVER: pkcs11js.CKA_VERIFY_RECOVER,
} as const;
type Flag = keyof typeof FLAGS;
const PRIVATE_FLAGS: readonly Flag[] = ['CKA_SIGN', 'CKA_DERIVE', 'CKA_DECRYPT', 'CKA_UNWRAP', 'CKA_SIGN_RECOVER'];
const PUBLIC_FLAGS: readonly Flag[] = ['CKA_VERIFY', 'CKA_DERIVE', 'CKA_ENCRYPT', 'CKA_WRAP', 'CKA_VERIFY_RECOVER'];

const slotOf = (module: Pkcs11, token: TestToken) => {
  const slot = module.C_GetSlotList(true).find((s) => module.C_GetTokenInfo(s).label.trim() === token.label);
  if (slot === undefined) throw new Error(`no token ${token.label}`);
  return slot;
};

/** The object of `class` under `handle`'s CKA_ID, found from a session of this process's own (session objects too). */
const objectOf = (module: Pkcs11, session: Pkcs11Handle, handle: KeyHandle, objectClass: number): Pkcs11Handle => {
  module.C_FindObjectsInit(session, [
    { type: pkcs11js.CKA_ID, value: Buffer.from(handle, 'utf8') },
    { type: pkcs11js.CKA_CLASS, value: objectClass },
  ]);
  try {
    const [object, more] = module.C_FindObjects(session, 2);
    if (object === undefined || more !== undefined) throw new Error(`not one object of class ${objectClass} under ${handle}`);
    return object;
  } finally {
    module.C_FindObjectsFinal(session);
  }
};

/** Each of `flags` as the token reads it back. */
const flagsOf = (module: Pkcs11, session: Pkcs11Handle, object: Pkcs11Handle, flags: readonly Flag[]): Record<string, boolean> => {
  const values = module.C_GetAttributeValue(
    session,
    object,
    flags.map((flag) => ({ type: FLAGS[flag] })),
  );
  return Object.fromEntries(flags.map((flag, i) => [flag, (values[i]?.value as Buffer)[0] === 1]));
};

const only = (flags: readonly Flag[], set: readonly Flag[]) => Object.fromEntries(flags.map((flag) => [flag, set.includes(flag)]));

describe.skipIf(softHsmMissing !== undefined)('PKCS#11 key pairs carry only the usage flags they need', () => {
  const hsm = softHsm();
  const token = hsm.token('usage-flags');
  afterAll(() => hsm.cleanup());

  const cases = [
    { kind: 'ed25519', options: {}, needs: { private: ['CKA_SIGN'], public: ['CKA_VERIFY'] } },
    { kind: 'ed25519', options: { ephemeral: true }, needs: { private: ['CKA_SIGN'], public: ['CKA_VERIFY'] } },
    { kind: 'p256', options: { usage: 'sign' }, needs: { private: ['CKA_SIGN'], public: ['CKA_VERIFY'] } },
    { kind: 'p256', options: { usage: 'agree' }, needs: { private: ['CKA_DERIVE'], public: [] } },
    { kind: 'p256', options: { ephemeral: true }, needs: { private: ['CKA_DERIVE'], public: [] } },
  ] as const;

  for (const { kind, options, needs } of cases) {
    it(`a ${kind} key pair (${JSON.stringify(options)}): private ${needs.private.join(', ')} only, public ${needs.public.join(', ') || 'nothing'} only, read back from the token`, async () => {
      const se = Pkcs11SecureEnvironment.open({ uri: token.uri() }, { random });
      try {
        const handle = await se.generate('test:flags', kind, options);
        await withSoftHsmModule(async (module) => {
          const session = module.C_OpenSession(slotOf(module, token), pkcs11js.CKF_SERIAL_SESSION);
          try {
            const privateKey = objectOf(module, session, handle, pkcs11js.CKO_PRIVATE_KEY);
            const publicKey = objectOf(module, session, handle, pkcs11js.CKO_PUBLIC_KEY);
            expect(flagsOf(module, session, privateKey, PRIVATE_FLAGS)).toEqual(only(PRIVATE_FLAGS, needs.private));
            expect(flagsOf(module, session, publicKey, PUBLIC_FLAGS)).toEqual(only(PUBLIC_FLAGS, needs.public));
          } finally {
            module.C_CloseSession(session);
          }
        });
        // And the key still does what it is for.
        if (needs.private.includes('CKA_SIGN' as never)) {
          const { publicKey } = await se.describe('test:flags', handle);
          expect(verifySignature(kind, publicKey as Uint8Array, text('m'), await se.sign('test:flags', handle, text('m')))).toBe(true);
        } else {
          const peer = await se.generate('test:flags', 'p256', { usage: 'agree' });
          const { publicKey } = await se.describe('test:flags', peer);
          await expect(se.agree('test:flags', handle, publicKey as Uint8Array)).resolves.toMatch(/^key_/);
        }
      } finally {
        se.close();
      }
    });
  }

  it('an Ed25519 key pair made by an earlier version, with the token default usage flags, is still found, signs and is destroyed', async () => {
    const owner = 'test:earlier';
    const handle = `key_${Buffer.from(random(18)).toString('base64url')}` as KeyHandle;
    const label = { owner, kind: 'ed25519', usage: 'sign', extractable: false, host: false } as const;
    const se = Pkcs11SecureEnvironment.open({ uri: token.uri() }, { random });
    try {
      await withSoftHsmModule(async (module) => {
        const session = module.C_OpenSession(slotOf(module, token), pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
        try {
          // The templates of key-generation.ts before review 83, as they made keys still in tokens today.
          module.C_GenerateKeyPair(
            session,
            { mechanism: CKM_EC_EDWARDS_KEY_PAIR_GEN },
            fixed([...identity(handle, label, false), { type: pkcs11js.CKA_EC_PARAMS, value: ED25519_PARAMS }, { type: pkcs11js.CKA_PRIVATE, value: true }, { type: pkcs11js.CKA_VERIFY, value: true }]),
            fixed([...identity(handle, label, false), ...secretAttributes(false), { type: pkcs11js.CKA_SIGN, value: true }, { type: pkcs11js.CKA_DERIVE, value: false }]),
          );
          // The token's defaults, the flags this review narrows.
          expect(flagsOf(module, session, objectOf(module, session, handle, pkcs11js.CKO_PRIVATE_KEY), ['CKA_DECRYPT', 'CKA_UNWRAP', 'CKA_SIGN_RECOVER'])).toEqual({
            CKA_DECRYPT: true,
            CKA_UNWRAP: true,
            CKA_SIGN_RECOVER: true,
          });
        } finally {
          module.C_CloseSession(session);
        }
      });
      const { publicKey } = await se.describe(owner, handle);
      expect(verifySignature('ed25519', publicKey as Uint8Array, text('m'), await se.sign(owner, handle, text('m')))).toBe(true);
      await se.destroy(owner, handle);
      await expect(se.describe(owner, handle)).rejects.toThrow();
    } finally {
      se.close();
    }
  });
});
