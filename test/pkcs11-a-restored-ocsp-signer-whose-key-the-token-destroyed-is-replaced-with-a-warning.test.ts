/**
 * Review 133: the OCSP signer renews itself (a new key after two thirds of a week) and destroys the key it replaced
 * at the renewal after. A PKCS#11 token is no part of the data folder, so a whole-folder restore from a backup older
 * than that brings back a `pki/<ca>.ocsp.json` naming a key the token no longer holds. Opening it refused every start
 * (`refused (not_found): key key_… does not exist`, naming no file nor what to do). Now the key is taken as unusable,
 * as one of another CA certificate is: a new signer is issued, the file rewritten, and the start told the file and
 * the handle. Any other failure of the token still stops the start.
 */
import { copyFileSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createRootCa, loadIssuingCas } from '../adapters/driven/pki/index.ts';
import { OcspSigningKey } from '../adapters/driven/pki/ocsp-signing-key.ts';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { systemRandom } from '../adapters/runtime/index.ts';
import { isKeyNotFound } from '../domain/errors.ts';
import type { KeyHandle } from '../domain/ports/index.ts';
import { testCa } from './support/pki-test-ca.ts';
import { startTestService } from './support/service.ts';
import { softHsm, softHsmMissing } from './support/softhsm.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const WEEK = 7 * 86_400_000;
const random = (n: number) => new Uint8Array(randomBytes(n));
const folder = temporaryFolders('credence-ocsp-restored-');
type SignerFile = { readonly keyHandle: KeyHandle; readonly retired: readonly KeyHandle[] };

describe.skipIf(softHsmMissing !== undefined)('an OCSP signer file restored from before its key was destroyed in the token', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('ocsp-restore');

  it('is replaced by a new signer at open, with a warning naming the file and the key, instead of refusing the start', async () => {
    const root = Pkcs11SecureEnvironment.open({ uri: token.uri() }, { random });
    try {
      const se = root.forOwner('maf:infrastructure');
      const dataDir = folder();
      let now = Date.now();
      const ca = await testCa('default', 'p256', now);
      const warned: { path: string; handle: string }[] = [];
      const open = () => OcspSigningKey.open({ dataDir, se, ca, random: systemRandom, now: () => now, onKeyGone: (path, handle) => warned.push({ path, handle }) });
      const path = join(dataDir, 'pki', 'default.ocsp.json');
      const onDisk = (): SignerFile => JSON.parse(readFileSync(path, 'utf8')) as SignerFile;
      const held = (handle: KeyHandle) => se.describe(handle).then(() => true, (e: unknown) => (isKeyNotFound(e) ? false : Promise.reject(e)));

      const signer = await open();
      const backedUp = onDisk().keyHandle;
      copyFileSync(path, `${path}.backup`);
      // Two renewals: the first retires the backed-up key, the second destroys it in the token.
      now += 0.7 * WEEK;
      expect(await signer.renewIfDue()).toBe(true);
      now += 0.7 * WEEK;
      expect(await signer.renewIfDue()).toBe(true);
      expect(await held(backedUp)).toBe(false);
      const renewed = onDisk();

      // The whole folder restored: its signer file from the backup, the token as it is.
      copyFileSync(`${path}.backup`, path);
      const reopened = await open();

      expect(warned).toEqual([{ path, handle: backedUp }]);
      const file = onDisk();
      expect(file.keyHandle).not.toBe(backedUp);
      expect(await held(file.keyHandle)).toBe(true);
      expect(file.retired).not.toContain(backedUp);
      // It signs, with the key the file names.
      expect(reopened.current.notBefore).toBeLessThanOrEqual(now);
      expect((await reopened.current.sign(new Uint8Array([1, 2, 3]))).length).toBeGreaterThan(0);
      // The keys the running signer still held stay in the token (the restored file does not name them), untouched.
      expect(await held(renewed.keyHandle)).toBe(true);
      // Opened again, the rewritten file is used as it is: nothing more to warn of.
      await open();
      expect(warned).toHaveLength(1);
      expect(onDisk().keyHandle).toBe(file.keyHandle);
    } finally {
      root.close();
    }
  });

  it('is said at warn by the service at its start, naming the file and the key, and the service starts', async () => {
    const dataDir = folder();
    const clock = new FakeClock(new Date());
    const path = join(dataDir, 'pki', 'default.ocsp.json');
    const root = Pkcs11SecureEnvironment.open({ uri: token.uri() }, { random });
    let backedUp: string;
    try {
      const se = root.forOwner('maf:infrastructure');
      await createRootCa({ dataDir, se, id: 'default', kind: 'p256', now: clock.now(), random });
      const [ca] = await loadIssuingCas(dataDir, se);
      const signer = await OcspSigningKey.open({ dataDir, se, ca: ca!, random, now: () => clock.now().getTime() });
      backedUp = (JSON.parse(readFileSync(path, 'utf8')) as SignerFile).keyHandle;
      copyFileSync(path, `${path}.backup`);
      for (const _ of [1, 2]) {
        clock.advance(0.7 * WEEK);
        expect(await signer.renewIfDue()).toBe(true);
      }
      copyFileSync(`${path}.backup`, path);
    } finally {
      root.close();
    }
    const svc = await startTestService({ dir: dataDir, clock, config: { secureEnvironment: token.uri() } });
    try {
      const warned = svc
        .logs()
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((line) => line['level'] === 40 && line['keyHandle'] === backedUp);
      expect(warned).toEqual([expect.objectContaining({ caId: 'default', file: path, msg: expect.stringContaining(`the OCSP signer file ${path} names the key ${backedUp}`) })]);
      expect((JSON.parse(readFileSync(path, 'utf8')) as SignerFile).keyHandle).not.toBe(backedUp);
    } finally {
      await svc.close();
    }
  });
});
