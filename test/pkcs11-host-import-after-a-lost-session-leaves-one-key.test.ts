/**
 * SER-023, review 83 finding 2: a key made from host bytes under `x-derivation=host` (unwrap, deriveKey, an X25519
 * generate) whose session is lost after C_UnwrapKey made the object. C_UnwrapKey (the host transfer's import) ran for
 * real, then the sessions went (C_CloseAllSessions) and the call answered CKR_SESSION_HANDLE_INVALID. Before, the
 * retry drew a new handle: one unwrap took the owner's objects up by two, and after destroy of the handle returned
 * the first (extractable) object stayed, named by nothing, past crypto-shredding. Now the handle is drawn once for
 * every attempt and the retry shreds what the first left under it: exactly one object more, none after destroy.
 */
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { KeyHandle, OwnedSecureEnvironment } from '../domain/ports/secure-environment.ts';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { LiveSession } from '../adapters/driven/secure-environment/pkcs11/live-session.ts';
import { pkcs11js, type Pkcs11 } from '../adapters/driven/secure-environment/pkcs11/module.ts';
import type { TokenSession } from '../adapters/driven/secure-environment/pkcs11/token-session.ts';
import { softHsm, softHsmMissing, withSoftHsmModule, type TestToken } from './support/softhsm.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));
const text = (s: string) => new TextEncoder().encode(s);
const hex = (handle: string) => Buffer.from(handle, 'utf8').toString('hex');
const SESSION_HANDLE_INVALID = new pkcs11js.Pkcs11Error('CKR_SESSION_HANDLE_INVALID:179', 0xb3, 'C_UnwrapKey');

const slotOf = (module: Pkcs11, label: string) => {
  const slot = module.C_GetSlotList(true).find((s) => module.C_GetTokenInfo(s).label.trim() === label);
  if (slot === undefined) throw new Error(`no token ${label}`);
  return slot;
};

/** The next C_UnwrapKey runs for real (or not), then every session of the token is closed and it answers that its session is gone. */
const loseSessionAfterUnwrapKey = (module: Pkcs11, token: TestToken, made: boolean) => {
  const real = module.C_UnwrapKey.bind(module) as (...args: unknown[]) => unknown;
  return vi.spyOn(module, 'C_UnwrapKey').mockImplementationOnce(((...args: unknown[]) => {
    if (made) real(...args);
    module.C_CloseAllSessions(slotOf(module, token.label));
    throw SESSION_HANDLE_INVALID;
  }) as never);
};

describe.skipIf(softHsmMissing !== undefined)('PKCS#11 keys made from host bytes when the session is lost as the object is made', () => {
  const hsm = softHsm();
  const token = hsm.token('host-import');
  afterAll(() => hsm.cleanup());
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** The CKA_IDs (hex) of the token's objects labelled for `owner`, one per object, sorted, as pkcs11-tool lists them. */
  const idsOf = (owner: string) =>
    hsm
      .listObjects(token)
      .split(/\n(?=\S)/)
      .filter((block) => block.includes(`"owner":"${owner}"`))
      .map((block) => /^\s*ID:\s*([0-9a-f]+)/m.exec(block)?.[1])
      .sort();

  /** What each operation needs made beforehand (with no fault), and the operation itself, which makes one stored key. */
  const cases: { name: string; prepare: (se: OwnedSecureEnvironment) => Promise<() => Promise<KeyHandle | undefined>> }[] = [
    {
      name: 'unwrap',
      prepare: async (se) => {
        const psk = await se.generate('psk256');
        const kek = await se.deriveKey({ inputs: [psk], kind: 'session256', salt: text('s'), info: text('kek') });
        const wrapped = await se.wrap(await se.generate('psk256', { extractable: true }), kek, text('aad'));
        return () => se.unwrap(kek, wrapped, text('aad'), { kind: 'psk256', extractable: true });
      },
    },
    {
      name: 'deriveKey',
      prepare: async (se) => {
        const psk = await se.generate('psk256');
        return () => se.deriveKey({ inputs: [psk], kind: 'session256', salt: text('s'), info: text('session') });
      },
    },
    { name: 'generate x25519', prepare: async (se) => () => se.generate('x25519') },
  ];

  for (const { name, prepare } of cases) {
    for (const made of [true, false]) {
      it(`${name}, the session lost ${made ? 'after' : 'before'} C_UnwrapKey made the object: one object more, under the handle returned; destroy leaves none`, async () => {
        const owner = `test:${name.replace(' ', '-')}-${made ? 'made' : 'not-made'}`;
        const root = Pkcs11SecureEnvironment.open({ uri: token.uri('x-derivation=host') }, { random });
        try {
          const se = root.forOwner(owner);
          const operation = await prepare(se);
          const before = idsOf(owner);
          await withSoftHsmModule(async (module) => {
            const unwrapping = loseSessionAfterUnwrapKey(module, token, made);

            const handle = await operation();

            // The faulty call, then the retry's real one.
            expect(unwrapping).toHaveBeenCalledTimes(2);
            expect(handle).toBeDefined();
            expect(idsOf(owner)).toEqual([...before, hex(handle as KeyHandle)].sort());
            // The key kept is the one the handle names, and it serves.
            expect((await se.describe(handle as KeyHandle)).handle).toBe(handle);
            await se.destroy(handle as KeyHandle);
            expect(idsOf(owner)).toEqual(before);
          });
        } finally {
          root.close();
        }
      });
    }
  }
});

describe('the handle of the key an operation makes from host bytes', () => {
  // No token call is reached: the handle is drawn without one, and the refusals come before any shredding.
  const live = () => new LiveSession({ generation: 0 } as TokenSession, true, random);
  let drawn = 0;
  const draw = () => `key_${(drawn += 1)}` as KeyHandle;

  it('is drawn inside an operation only, and a second key in the same attempt is refused, not taken for a retry that shreds the first', () => {
    const session = live();
    expect(() => session.newKeyHandle('o', draw)).toThrow(/only inside recovering/);
    expect(() =>
      session.recovering(() => {
        session.newKeyHandle('o', draw);
        return session.newKeyHandle('o', draw);
      }),
    ).toThrow(/one key, for one owner/);
    // Each operation draws its own.
    const first = session.recovering(() => session.newKeyHandle('o', draw));
    const second = session.recovering(() => session.newKeyHandle('o', draw));
    expect(first).not.toBe(second);
  });
});
