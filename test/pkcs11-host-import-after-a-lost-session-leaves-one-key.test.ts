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
import type { TokenSession } from '../adapters/driven/secure-environment/pkcs11/token-session.ts';
import { softHsm, softHsmMissing, withSoftHsmModule } from './support/softhsm.ts';
import { loseSessionAfter, objectIdsOf } from './support/lost-session.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));
const text = (s: string) => new TextEncoder().encode(s);
const hex = (handle: string) => Buffer.from(handle, 'utf8').toString('hex');



describe.skipIf(softHsmMissing !== undefined)('PKCS#11 keys made from host bytes when the session is lost as the object is made', () => {
  const hsm = softHsm();
  const token = hsm.token('host-import');
  afterAll(() => hsm.cleanup());
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const idsOf = (owner: string) => objectIdsOf(hsm, token, owner);

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
            const unwrapping = loseSessionAfter(module, token, 'C_UnwrapKey', made);

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
