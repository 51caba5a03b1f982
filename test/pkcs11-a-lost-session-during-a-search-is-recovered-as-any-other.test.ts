/**
 * Review 407: pkcs11js 2.1 throws C_FindObjects' and C_SetAttributeValue's failures as a plain Error
 * ("CKR_SESSION_HANDLE_INVALID:179"), not a Pkcs11Error (its `modify` wraps them without catchError). Read as no
 * CKR_* at all, a session lost during a search (a listing, a lookup, a destroy) or while a key was kept in the token
 * was never recovered but answered `token_error`, naming C_FindObjectsFinal, the call after the one that failed. Now
 * either shape is read, the session is reopened and the operation retried as for any other call, and a fault is told
 * with the function that failed.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { softHsm, softHsmMissing, withSoftHsmModule } from './support/softhsm.ts';
import { failAtPlain, loseSessionAtPlain } from './support/lost-session.ts';
import { rejection } from './support/pin-free-rejection.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));
const OWNER = 'test:search';

describe.skipIf(softHsmMissing !== undefined)('a PKCS#11 session lost during a search or an attribute change', () => {
  const hsm = softHsm();
  // SoftHSM2 lists the tokens it finds at C_Initialize: all made before the first open.
  const listing = hsm.token('listing');
  const destroying = hsm.token('destroying');
  const keeping = hsm.token('keeping');
  const faulty = hsm.token('faulty');
  afterAll(() => hsm.cleanup());
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('a session lost at C_FindObjects while listing keys is reopened once and the listing answers', async () => {
    const se = Pkcs11SecureEnvironment.open({ uri: listing.uri() }, { random });
    try {
      await withSoftHsmModule(async (module) => {
        const psk = await se.generate(OWNER, 'psk256');
        const opens = vi.spyOn(module, 'C_OpenSession');
        loseSessionAtPlain(module, listing, 'C_FindObjects');
        const page = await se.listKeys(OWNER);
        expect(page.keys.map((key) => key.handle)).toEqual([psk]);
        expect(opens).toHaveBeenCalledTimes(1);
      });
    } finally {
      se.close();
    }
  });

  it.each(['CKR_SESSION_HANDLE_INVALID:179', 'CKR_USER_NOT_LOGGED_IN:257', 'CKR_DEVICE_REMOVED:50'] as const)(
    'C_FindObjects answering %s (a plain Error, as pkcs11js throws it) while listing keys is a lost session: reopened once, the listing answers',
    async (returnValue) => {
      const se = Pkcs11SecureEnvironment.open({ uri: listing.uri() }, { random });
      try {
        await withSoftHsmModule(async (module) => {
          const [psk] = (await se.listKeys(OWNER)).keys.map((key) => key.handle);
          const opens = vi.spyOn(module, 'C_OpenSession');
          failAtPlain(module, 'C_FindObjects', returnValue, true);
          expect((await se.listKeys(OWNER)).keys.map((key) => key.handle)).toEqual([psk]);
          expect(opens).toHaveBeenCalledTimes(1);
        });
      } finally {
        se.close();
      }
    },
  );

  it('a session lost at C_FindObjects while destroying a key is reopened once and the key is destroyed', async () => {
    const se = Pkcs11SecureEnvironment.open({ uri: destroying.uri() }, { random });
    try {
      await withSoftHsmModule(async (module) => {
        const ed = await se.generate(OWNER, 'ed25519');
        const opens = vi.spyOn(module, 'C_OpenSession');
        loseSessionAtPlain(module, destroying, 'C_FindObjects');
        await se.destroy(OWNER, ed);
        expect(opens).toHaveBeenCalledTimes(1);
        expect((await se.listKeys(OWNER)).keys).toEqual([]);
      });
    } finally {
      se.close();
    }
  });

  it('a session lost at C_SetAttributeValue while keeping a key in the token is reopened once and answered as without the loss', async () => {
    const se = Pkcs11SecureEnvironment.open({ uri: keeping.uri('x-derivation=host') }, { random });
    try {
      await withSoftHsmModule(async (module) => {
        // Host-held under x-derivation=host, so extractable: keepInside asks the token to set CKA_EXTRACTABLE false.
        const first = await se.generate(OWNER, 'psk256');
        const second = await se.generate(OWNER, 'psk256');
        const unhindered = await se.keepInside(OWNER, first);
        const opens = vi.spyOn(module, 'C_OpenSession');
        loseSessionAtPlain(module, keeping, 'C_SetAttributeValue');
        expect(await se.keepInside(OWNER, second)).toEqual(unhindered);
        expect(opens).toHaveBeenCalledTimes(1);
      });
    } finally {
      se.close();
    }
  });

  it('CKR_DEVICE_ERROR at C_FindObjects is device_error naming C_FindObjects, not the C_FindObjectsFinal after it', async () => {
    const se = Pkcs11SecureEnvironment.open({ uri: faulty.uri() }, { random });
    try {
      await withSoftHsmModule(async (module) => {
        await se.generate(OWNER, 'psk256');
        failAtPlain(module, 'C_FindObjects', 'CKR_DEVICE_ERROR:48');
        for (const run of [() => se.listKeys(OWNER), () => se.destroy(OWNER, 'key_AAAAAAAAAAAAAAAAAAAAAAAA' as never)]) {
          const issue = await rejection(run, [faulty.pin]);
          expect(issue).toMatchObject({ path: 'token', rule: 'device_error' });
          expect(issue?.message).toContain('C_FindObjects failed: CKR_DEVICE_ERROR');
          expect(issue?.message).not.toContain('C_FindObjectsFinal');
        }
      });
    } finally {
      se.close();
    }
  });
});
