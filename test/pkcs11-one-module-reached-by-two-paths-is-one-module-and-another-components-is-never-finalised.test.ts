/**
 * Review 457 F1: loaded PKCS#11 modules were tracked by the module path as written, so a link and its target were two
 * "modules" of one library. The second C_Initialize answered CKR_CRYPTOKI_ALREADY_INITIALIZED, taken as a fresh
 * module: a Secure Environment opened by the other path with a WRONG PIN was let in (its login check is per module
 * object, so CKR_USER_ALREADY_LOGGED_IN read as success) and used the first one's token; closing it ran C_Finalize
 * under the first one's sessions, destroying its ephemeral keys. Now a module is one by its real path; and a library
 * another component of the process initialised is never finalised by Credence, nor its login taken for a PIN check.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { pkcs11js } from '../adapters/driven/secure-environment/pkcs11/module.ts';
import { rejection } from './support/pin-free-rejection.ts';
import { SOFTHSM_MODULE, softHsm, softHsmMissing, presentSlotOf, type TestToken } from './support/softhsm.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));
const text = (s: string) => new TextEncoder().encode(s);
const OWNER = 'maf:infrastructure';

describe.skipIf(softHsmMissing !== undefined)('PKCS#11: one module library reached by two paths', () => {
  const hsm = softHsm();
  const token = hsm.token('two-paths');
  const foreignToken = hsm.token('foreign');
  // A link of our own to the library (not Debian's /usr/lib/softhsm link), in a folder of this account's.
  const links = mkdtempSync(join(tmpdir(), 'credence-module-link-'));
  const real = softHsmMissing === undefined ? realpathSync(SOFTHSM_MODULE) : SOFTHSM_MODULE;
  const link = join(links, 'libpkcs11-link.so');
  if (softHsmMissing === undefined) symlinkSync(real, link);
  afterAll(() => {
    rmSync(links, { recursive: true, force: true });
    hsm.cleanup();
  });

  const wrongPinFile = join(hsm.dir, 'wrong.pin');
  const wrongPin = randomBytes(12).toString('hex');
  writeFileSync(wrongPinFile, `${wrongPin}\n`, { mode: 0o600 });
  const uriOf = (t: TestToken, modulePath: string, pinFile = t.pinFile) => `pkcs11:token=${encodeURIComponent(t.label)}?module-path=${modulePath}&pin-source=file:${pinFile}`;

  it('a second Secure Environment by the target path with a wrong PIN is refused, not let in on the first one’s login', async () => {
    const a = Pkcs11SecureEnvironment.open({ uri: uriOf(token, link) }, { random });
    try {
      const issue = await rejection(async () => Pkcs11SecureEnvironment.open({ uri: uriOf(token, real, wrongPinFile) }, { random }).close(), [token.pin, wrongPin]);
      expect(issue).toMatchObject({ path: 'pin-source', rule: 'pin_unverified' });
      expect(issue?.message).toContain(wrongPinFile);
      // A still works: the refusal finalised nothing under it.
      const psk = await a.generate(OWNER, 'psk256');
      expect(await a.mac(OWNER, psk, text('m'))).toHaveLength(32);
    } finally {
      a.close();
    }
  });

  it('closing the Secure Environment opened by the other path leaves the first one’s ephemeral key usable', async () => {
    const a = Pkcs11SecureEnvironment.open({ uri: uriOf(token, link) }, { random });
    try {
      const agreeKey = await a.generate(OWNER, 'p256', { usage: 'agree' });
      const ephemeral = await a.generate(OWNER, 'p256', { usage: 'agree', ephemeral: true });
      const ephemeralPublic = (await a.describe(OWNER, ephemeral)).publicKey as Uint8Array;
      const b = Pkcs11SecureEnvironment.open({ uri: uriOf(token, real) }, { random });
      b.close();
      expect((await a.describe(OWNER, ephemeral)).publicKey).toEqual(ephemeralPublic);
      const agreePublic = (await a.describe(OWNER, agreeKey)).publicKey as Uint8Array;
      await a.agree(OWNER, ephemeral, agreePublic);
      await a.destroy(OWNER, ephemeral);
    } finally {
      a.close();
    }
  });

  it('a library another component initialised and logged in: a wrong PIN is refused, and closing finalises nothing under that component', async () => {
    const other = new pkcs11js.PKCS11();
    other.load(real);
    other.C_Initialize();
    try {
      const session = other.C_OpenSession(presentSlotOf(other, foreignToken.label), pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
      other.C_Login(session, pkcs11js.CKU_USER, foreignToken.pin);
      const issue = await rejection(async () => Pkcs11SecureEnvironment.open({ uri: uriOf(foreignToken, link, wrongPinFile) }, { random }).close(), [foreignToken.pin, wrongPin]);
      expect(issue).toMatchObject({ path: 'pin-source', rule: 'pin_unverified' });
      // Its session, and the library, are still there: no C_Finalize ran under it.
      expect(() => other.C_GetSessionInfo(session)).not.toThrow();
      other.C_Logout(session);
      other.C_CloseSession(session);
      // Not logged in by the other component: the token checks the PIN itself, and closing leaves the library initialised.
      const refused = await rejection(async () => Pkcs11SecureEnvironment.open({ uri: uriOf(foreignToken, link, wrongPinFile) }, { random }).close(), [foreignToken.pin, wrongPin]);
      expect(refused).toMatchObject({ path: 'pin-source', rule: 'pin_incorrect' });
      Pkcs11SecureEnvironment.open({ uri: uriOf(foreignToken, link) }, { random }).close();
      expect(() => other.C_GetSlotList(true)).not.toThrow();
    } finally {
      other.C_Finalize();
      other.close();
    }
  });
});
