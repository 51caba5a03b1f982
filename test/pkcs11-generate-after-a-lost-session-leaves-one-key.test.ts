/**
 * SER-023, review 53 finding 3: a generate whose session is lost after the token made the key. C_GenerateKeyPair
 * (or C_GenerateKey) ran for real, then the sessions went (C_CloseAllSessions) and the call answered
 * CKR_SESSION_HANDLE_INVALID, as an HSM dropping its connection at that moment would. Before, the retry generated a
 * second key under a new handle and the first stayed in the token for ever, named by nothing (private-key objects
 * 1 -> 3 for one generate). Now one handle serves both attempts and the retry shreds what the first left under it:
 * after one generate the owner has exactly one key's objects in the token, under the handle returned. Seen from
 * outside (pkcs11-tool, another process).
 */
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { randomBytes } from 'node:crypto';
import { verifySignature } from '../domain/crypto/signatures.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { softHsm, softHsmMissing, withSoftHsmModule } from './support/softhsm.ts';
import { loseSessionAfter, objectIdsOf } from './support/lost-session.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));
const text = (s: string) => new TextEncoder().encode(s);
const hex = (handle: string) => Buffer.from(handle, 'utf8').toString('hex');




describe.skipIf(softHsmMissing !== undefined)('PKCS#11 generate when the session is lost as the key is made', () => {
  const hsm = softHsm();
  const token = hsm.token('generate');
  afterAll(() => hsm.cleanup());
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const idsOf = (owner: string) => objectIdsOf(hsm, token, owner);

  const cases = [
    { kind: 'ed25519', call: 'C_GenerateKeyPair', objects: 2 },
    { kind: 'p256', call: 'C_GenerateKeyPair', objects: 2 },
    { kind: 'psk256', call: 'C_GenerateKey', objects: 1 },
    { kind: 'psk256', call: 'C_GenerateKey', objects: 1, query: 'x-derivation=host' },
  ] as const;

  for (const { kind, call, objects, ...rest } of cases) {
    const query = 'query' in rest ? rest.query : undefined;
    it(`a ${kind} key${query ? ` (${query})` : ''} made before the session was lost is shredded by the retry: one key's objects remain, under the handle returned`, async () => {
      const owner = `test:made-${kind}${query ? '-host' : ''}`;
      const se = Pkcs11SecureEnvironment.open({ uri: token.uri(query) }, { random });
      try {
        await withSoftHsmModule(async (module) => {
          const generating = loseSessionAfter(module, token, call, true);

          const handle: KeyHandle = await se.generate(owner, kind);

          // The faulty call, then the retry's real one.
          expect(generating).toHaveBeenCalledTimes(2);
          expect(idsOf(owner)).toEqual(Array.from({ length: objects }, () => hex(handle)));
          // The key kept is the one the handle names, and it works.
          if (kind === 'psk256') {
            expect(await se.verifyMac(owner, handle, text('m'), await se.mac(owner, handle, text('m')))).toBe(true);
          } else {
            const { publicKey } = await se.describe(owner, handle);
            expect(verifySignature(kind, publicKey as Uint8Array, text('m'), await se.sign(owner, handle, text('m')))).toBe(true);
          }
          await se.destroy(owner, handle);
          expect(idsOf(owner)).toEqual([]);
        });
      } finally {
        se.close();
      }
    });
  }

  it('a session lost before the key was made: the retry finds nothing to shred and makes the one key', async () => {
    const owner = 'test:not-made';
    const se = Pkcs11SecureEnvironment.open({ uri: token.uri() }, { random });
    try {
      await withSoftHsmModule(async (module) => {
        loseSessionAfter(module, token, 'C_GenerateKeyPair', false);
        const handle = await se.generate(owner, 'ed25519');
        expect(idsOf(owner)).toEqual([hex(handle), hex(handle)]);
      });
    } finally {
      se.close();
    }
  });
});
