/**
 * listKeys on a PKCS#11 token (docs/hsm.md "Listing an owner's keys"): found by the owner's CKA_LABELs through
 * C_FindObjects, across a lost session and a logout, never from a search the token answers empty because it is gone,
 * and by reading CKA_ID and CKA_TOKEN only. The conformance suite holds the port's behaviour; this file the token's.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { pkcs11js } from '../adapters/driven/secure-environment/pkcs11/module.ts';
import { encodeLabel } from '../adapters/driven/secure-environment/pkcs11/token-objects.ts';
import { softHsm, softHsmMissing, withSoftHsmModule, slotOfToken } from './support/softhsm.ts';
import { rejection } from './support/pin-free-rejection.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));
const OWNER = 'maf:infrastructure';
const handles = async (se: Pkcs11SecureEnvironment, owner = OWNER) => (await se.listKeys(owner)).keys.map((k) => k.handle).sort();

describe.skipIf(softHsmMissing !== undefined)('listKeys on a PKCS#11 token', () => {
  const hsm = softHsm();
  // SoftHSM2 lists the tokens it finds at C_Initialize: all made before the first open.
  const restarted = hsm.token('list-restarted');
  const deleted = hsm.token('list-deleted');
  const mixed = hsm.token('list-mixed');
  const planted = hsm.token('list-planted');
  afterAll(() => hsm.cleanup());
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('after the module restarts or a logout, the token keys are listed again and the session objects lost with the session are not', async () => {
    const se = Pkcs11SecureEnvironment.open({ uri: restarted.uri('x-derivation=host') }, { random });
    try {
      await withSoftHsmModule(async (module) => {
        const stored = [await se.generate(OWNER, 'ed25519'), await se.generate(OWNER, 'psk256')].sort();
        const ephemeral = await se.generate(OWNER, 'p256', { usage: 'agree', ephemeral: true });
        expect(await handles(se)).toEqual([...stored, ephemeral].sort());
        module.C_Finalize();
        module.C_Initialize();
        expect(await handles(se)).toEqual(stored);
        // SoftHSM2 shows a logged-out session no private object, answering an empty list: taken as lost, not as no keys.
        const other = module.C_OpenSession(slotOfToken(module, restarted.label)!, pkcs11js.CKF_SERIAL_SESSION);
        module.C_Logout(other);
        module.C_CloseSession(other);
        expect(await handles(se)).toEqual(stored);
      });
    } finally {
      se.close();
    }
  });

  it('a token deleted under it is token_unavailable, not an owner with no keys', async () => {
    const se = Pkcs11SecureEnvironment.open({ uri: deleted.uri() }, { random });
    try {
      await se.generate(OWNER, 'ed25519');
      const removed = hsm.deleteToken(deleted);
      expect(await rejection(() => se.listKeys(OWNER), [deleted.pin])).toMatchObject({ path: 'token', rule: 'token_unavailable' });
      removed.restore();
      expect(await handles(se)).toHaveLength(1);
    } finally {
      se.close();
    }
  });

  it('keys generated with and without x-derivation=host are both listed, reading only CKA_ID and CKA_TOKEN of each', async () => {
    const inToken = Pkcs11SecureEnvironment.open({ uri: mixed.uri() }, { random });
    const host = Pkcs11SecureEnvironment.open({ uri: mixed.uri('x-derivation=host') }, { random });
    try {
      const made = [await inToken.generate(OWNER, 'psk256'), await inToken.generate(OWNER, 'p256'), await host.generate(OWNER, 'psk256', { extractable: true }), await host.generate(OWNER, 'x25519')];
      await withSoftHsmModule(async (module) => {
        const reads = vi.spyOn(module, 'C_GetAttributeValue');
        expect(await handles(inToken)).toEqual([...made].sort());
        const asked = new Set(reads.mock.calls.flatMap(([, , template]) => template.map((attribute) => attribute.type)));
        expect([...asked].sort()).toEqual([pkcs11js.CKA_ID, pkcs11js.CKA_TOKEN].sort());
      });
      expect((await host.listKeys(OWNER)).keys.map(({ handle, kind, usage }) => ({ handle, kind, usage })).sort((a, b) => (a.handle < b.handle ? -1 : 1))).toEqual(
        made.map((handle, i) => ({ handle, kind: ['psk256', 'p256', 'psk256', 'x25519'][i], usage: [undefined, 'sign', undefined, 'agree'][i] })).sort((a, b) => (a.handle < b.handle ? -1 : 1)),
      );
    } finally {
      inToken.close();
      host.close();
    }
  });

  it('an object labelled as the owner\'s under a CKA_ID that is no handle is passed over; another owner\'s key is not listed', async () => {
    const se = Pkcs11SecureEnvironment.open({ uri: planted.uri() }, { random });
    try {
      const key = await se.generate(OWNER, 'psk256');
      await se.generate('maf:someone-else', 'psk256');
      const label = encodeLabel({ owner: OWNER, kind: 'psk256', extractable: false, host: false });
      hsm.plantSecretKey(planted, { id: 'not-a-handle', label, value: new Uint8Array(32).fill(1) });
      expect(await handles(se)).toEqual([key]);
      expect(await handles(se, 'maf:nobody')).toEqual([] as KeyHandle[]);
    } finally {
      se.close();
    }
  });
});
