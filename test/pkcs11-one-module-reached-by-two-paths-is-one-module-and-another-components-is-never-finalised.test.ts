/**
 * Review 457 F1: loaded PKCS#11 modules were tracked by the module path as written, so a link and its target were two
 * "modules" of one library. The second C_Initialize answered CKR_CRYPTOKI_ALREADY_INITIALIZED, taken as a fresh
 * module: a Secure Environment opened by the other path with a WRONG PIN was let in (its login check is per module
 * object, so CKR_USER_ALREADY_LOGGED_IN read as success) and used the first one's token; closing it ran C_Finalize
 * under the first one's sessions, destroying its ephemeral keys. Now a module is one by its real path; and a library
 * another component of the process initialised is never finalised by Credence, nor its login taken for a PIN check.
 * Review 467: found by real path first, then by the file's device and inode (as the dynamic loader does), so a library
 * upgraded in place (a new file renamed over its path) is still the one module.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, linkSync, mkdtempSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { pkcs11js } from '../adapters/driven/secure-environment/pkcs11/module.ts';
import { acquireSharedModule, releaseModule } from '../adapters/driven/secure-environment/pkcs11/shared-module.ts';
import { rejection } from './support/pin-free-rejection.ts';
import { SOFTHSM_MODULE, softHsm, softHsmMissing, presentSlotOf, type TestToken } from './support/softhsm.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));
const text = (s: string) => new TextEncoder().encode(s);
const OWNER = 'maf:infrastructure';

/**
 * `se`'s ephemeral key, made before `closeOther` runs, is still there and agrees after it: closing the other
 * Secure Environment finalised nothing under `se`.
 */
const ephemeralKeyOutlives = async (se: Pkcs11SecureEnvironment, closeOther: () => void): Promise<void> => {
  const agreeKey = await se.generate(OWNER, 'p256', { usage: 'agree' });
  const ephemeral = await se.generate(OWNER, 'p256', { usage: 'agree', ephemeral: true });
  const ephemeralPublic = (await se.describe(OWNER, ephemeral)).publicKey as Uint8Array;
  closeOther();
  expect((await se.describe(OWNER, ephemeral)).publicKey).toEqual(ephemeralPublic);
  await se.agree(OWNER, ephemeral, (await se.describe(OWNER, agreeKey)).publicKey as Uint8Array);
  await se.destroy(OWNER, ephemeral);
};

describe.skipIf(softHsmMissing !== undefined)('PKCS#11: one module library reached by two paths', () => {
  const hsm = softHsm();
  const token = hsm.token('two-paths');
  const foreignToken = hsm.token('foreign');
  // A link of our own to the library (not Debian's /usr/lib/softhsm link), in a folder of this account's.
  const links = mkdtempSync(join(tmpdir(), 'credence-module-link-'));
  const real = softHsmMissing === undefined ? realpathSync(SOFTHSM_MODULE) : SOFTHSM_MODULE;
  const link = join(links, 'libpkcs11-link.so');
  // Review 462 F1: a hard link has a real path of its own, yet is the very file (same device and inode).
  const hard = join(links, 'libpkcs11-hard.so');
  if (softHsmMissing === undefined) {
    symlinkSync(real, link);
    linkSync(real, hard);
  }
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
      await ephemeralKeyOutlives(a, () => Pkcs11SecureEnvironment.open({ uri: uriOf(token, real) }, { random }).close());
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

  it('review 462 F1: a hard link to the library is the one module: the right PIN is taken, and closing the other keeps its ephemeral key', async () => {
    const a = Pkcs11SecureEnvironment.open({ uri: uriOf(token, real) }, { random });
    let aClosed = false;
    const b = Pkcs11SecureEnvironment.open({ uri: uriOf(token, hard) }, { random });
    try {
      await ephemeralKeyOutlives(b, () => {
        a.close();
        aClosed = true;
      });
      // And a wrong PIN by the hard link is still refused while the real path's login lasts.
      const again = Pkcs11SecureEnvironment.open({ uri: uriOf(token, real) }, { random });
      try {
        const issue = await rejection(async () => Pkcs11SecureEnvironment.open({ uri: uriOf(token, hard, wrongPinFile) }, { random }).close(), [token.pin, wrongPin]);
        expect(issue).toMatchObject({ path: 'pin-source', rule: 'pin_unverified' });
      } finally {
        again.close();
      }
    } finally {
      b.close();
      if (!aClosed) a.close();
    }
  });

  it('review 462 F2: a library the other component finalised and Credence initialised again is Credence’s: its last close finalises it', async () => {
    const other = new pkcs11js.PKCS11();
    other.load(real);
    other.C_Initialize();
    let otherInitialised = true;
    try {
      const a = Pkcs11SecureEnvironment.open({ uri: uriOf(foreignToken, link) }, { random });
      try {
        // The other component ends its use of the library (every session with it); Credence's recovery initialises it.
        other.C_Finalize();
        otherInitialised = false;
        const psk = await a.generate(OWNER, 'psk256');
        expect(await a.mac(OWNER, psk, text('m'))).toHaveLength(32);
      } finally {
        a.close();
      }
      // Finalised by Credence's last close: the other component (which still holds the library) initialises it afresh.
      other.C_Initialize();
      otherInitialised = true;
    } finally {
      if (otherInitialised) other.C_Finalize();
      other.close();
    }
  });

  // Review 462 F3, 467 F2: the path checked is the one loaded; a file replaced between its check and its load is checked
  // and loaded once more (a package upgrade), and refused as `module_replaced` only when replaced again.
  const swapping = (times: number, body: (checkedCopy: string, loaded: string[]) => void) => {
    const folder = mkdtempSync(join(tmpdir(), 'credence-module-swap-'));
    const checkedCopy = join(folder, 'libchecked.so');
    copyFileSync(real, checkedCopy);
    const original = pkcs11js.PKCS11.prototype.load;
    const load = vi.spyOn(pkcs11js.PKCS11.prototype, 'load');
    const loaded: string[] = [];
    load.mockImplementation(function (this: InstanceType<typeof pkcs11js.PKCS11>, path: string) {
      loaded.push(path);
      if (loaded.length <= times) {
        // Someone puts another file in the checked one's place just before the loader opens it.
        const other = join(folder, `libother-${loaded.length}.so`);
        copyFileSync(real, other);
        renameSync(other, checkedCopy);
      }
      return original.call(this, path);
    });
    try {
      body(checkedCopy, loaded);
    } finally {
      load.mockRestore();
      rmSync(folder, { recursive: true, force: true });
    }
  };

  it('review 462 F3, 467 F2: a library replaced between its check and its load twice is refused as module_replaced, naming module-path', () => {
    swapping(2, (checkedCopy, loaded) => {
      let thrown: unknown;
      try {
        releaseModule(acquireSharedModule(checkedCopy).key);
      } catch (error) {
        thrown = error;
      }
      expect(loaded).toEqual([checkedCopy, checkedCopy]);
      expect(thrown).toMatchObject({ problem: { issues: [{ path: 'module-path', rule: 'module_replaced' }] } });
    });
  });

  it('review 467 F2: a library replaced once between its check and its load is checked and loaded again', () => {
    swapping(1, (checkedCopy, loaded) => {
      const { key } = acquireSharedModule(checkedCopy);
      expect(loaded).toEqual([checkedCopy, checkedCopy]);
      releaseModule(key);
    });
  });

  // Review 467: a package upgrade renames a new file over the library path (a new inode). The dynamic loader matches
  // a loaded library by name first, so the path still reaches the instance loaded before: one module, not a foreign one.
  const upgradable = (): { path: string; upgrade: () => void; cleanup: () => void } => {
    const folder = mkdtempSync(join(tmpdir(), 'credence-module-upgrade-'));
    const path = join(folder, 'libsofthsm2.so');
    copyFileSync(real, path);
    return {
      path,
      upgrade: () => {
        const next = join(folder, '.libsofthsm2.so.new');
        copyFileSync(real, next);
        renameSync(next, path);
      },
      cleanup: () => rmSync(folder, { recursive: true, force: true }),
    };
  };

  it('review 467: a library upgraded in place (renamed over) is still the one module: a second Secure Environment with the right PIN opens', async () => {
    const lib = upgradable();
    const a = Pkcs11SecureEnvironment.open({ uri: uriOf(token, lib.path) }, { random });
    try {
      lib.upgrade();
      const b = Pkcs11SecureEnvironment.open({ uri: uriOf(token, lib.path) }, { random });
      try {
        const psk = await b.generate(OWNER, 'psk256');
        expect(await b.mac(OWNER, psk, text('m'))).toHaveLength(32);
        // A wrong PIN by that path is still refused while A's login lasts.
        const issue = await rejection(async () => Pkcs11SecureEnvironment.open({ uri: uriOf(token, lib.path, wrongPinFile) }, { random }).close(), [token.pin, wrongPin]);
        expect(issue).toMatchObject({ path: 'pin-source', rule: 'pin_unverified' });
      } finally {
        b.close();
      }
      const psk = await a.generate(OWNER, 'psk256');
      expect(await a.mac(OWNER, psk, text('m'))).toHaveLength(32);
    } finally {
      a.close();
      lib.cleanup();
    }
  });

  it('review 467: on another token, closing the Secure Environment opened before the upgrade keeps the later one’s ephemeral key', async () => {
    const lib = upgradable();
    const a = Pkcs11SecureEnvironment.open({ uri: uriOf(token, lib.path) }, { random });
    let aClosed = false;
    try {
      lib.upgrade();
      const b = Pkcs11SecureEnvironment.open({ uri: uriOf(foreignToken, lib.path) }, { random });
      try {
        await ephemeralKeyOutlives(b, () => {
          a.close();
          aClosed = true;
        });
      } finally {
        b.close();
      }
    } finally {
      if (!aClosed) a.close();
      lib.cleanup();
    }
  });

  it('review 462 F6: a module acquired by a link is released by its key after the link is re-pointed', () => {
    const other = new pkcs11js.PKCS11();
    other.load(real);
    const moving = join(links, 'libpkcs11-moving.so');
    symlinkSync(real, moving);
    try {
      const { key } = acquireSharedModule(moving);
      rmSync(moving);
      symlinkSync('/nonexistent/libpkcs11.so', moving);
      releaseModule(key);
      // Released, so finalised: initialised afresh by the next user.
      other.C_Initialize();
      other.C_Finalize();
      expect(() => releaseModule(key)).toThrow(/released more often than acquired/);
    } finally {
      other.close();
      rmSync(moving, { force: true });
    }
  });
});
