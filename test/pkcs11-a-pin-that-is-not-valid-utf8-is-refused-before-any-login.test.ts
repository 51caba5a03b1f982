/**
 * Review 324 finding 2: the PIN file was read as UTF-8 lossily (readFileSync(fd, 'utf8')): bytes that are not UTF-8
 * became U+FFFD, and C_Login was called with a PIN the operator never wrote, spending one of the token's PIN attempts
 * at every start. Now a PIN file that is not valid UTF-8, and an environment PIN holding U+FFFD (what Node makes of
 * such bytes in the environment), are refused as `pin-source`/`pin_characters` before any C_Login, naming the source,
 * never the PIN. The token here has the very bytes of that file as its PIN (`12345` then byte 0xE9, a Latin-1 é).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { rejection } from './support/pin-free-rejection.ts';
import { softHsm, softHsmMissing, withSoftHsmModule } from './support/softhsm.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));
/** The token's PIN as bytes: not UTF-8 (0xE9 alone starts no valid sequence at the end). */
const PIN_BYTES = Buffer.from([0x31, 0x32, 0x33, 0x34, 0x35, 0xe9]);
/** What the lossy read made of it, and what an environment variable holding those bytes reads as in Node. */
const LOSSY = '12345\uFFFD';

describe.skipIf(softHsmMissing !== undefined)('PKCS#11 Secure Environment: a PIN that is not valid UTF-8', () => {
  const hsm = softHsm();
  // A token with the Latin-1 PIN: softhsm2-util takes the PIN as an argument, so a shell puts the raw byte there.
  const token = hsm.token('latin1');
  if (softHsmMissing === undefined) {
    execFileSync('sh', ['-c', `softhsm2-util --init-token --free --label latin1-pin --pin "$(printf '12345\\351')" --so-pin "$0"`, randomBytes(12).toString('hex')], {
      env: { ...process.env },
      stdio: 'ignore',
    });
  }
  const uri = (pinSource: string) => token.uri().replace('token=latin1', 'token=latin1-pin').replace(/pin-source=[^&]*/, `pin-source=${pinSource}`);
  afterAll(() => hsm.cleanup());
  afterEach(() => vi.restoreAllMocks());

  it('a 0600 PIN file holding bytes that are not UTF-8 is refused as pin_characters naming the file, with no C_Login', async () => {
    const file = join(hsm.dir, 'latin1.pin');
    writeFileSync(file, PIN_BYTES, { mode: 0o600 });
    await withSoftHsmModule(async (module) => {
      const logins = vi.spyOn(module, 'C_Login');
      const issue = await rejection(async () => Pkcs11SecureEnvironment.open({ uri: uri(`file:${file}`) }, { random }), [PIN_BYTES.toString('latin1'), LOSSY, '12345']);
      expect(issue).toMatchObject({ path: 'pin-source', rule: 'pin_characters' });
      expect(issue?.message).toContain(`the file ${file}`);
      expect(issue?.message).toContain('UTF-8');
      expect(logins).not.toHaveBeenCalled();
    });
  });

  it('an environment PIN holding U+FFFD is refused as pin_characters naming the variable, with no C_Login', async () => {
    await withSoftHsmModule(async (module) => {
      const logins = vi.spyOn(module, 'C_Login');
      const issue = await rejection(async () => Pkcs11SecureEnvironment.open({ uri: uri('env:LATIN1_PIN') }, { random, env: { LATIN1_PIN: LOSSY } }), [LOSSY, '12345']);
      expect(issue).toMatchObject({ path: 'pin-source', rule: 'pin_characters' });
      expect(issue?.message).toContain('the environment variable LATIN1_PIN');
      expect(logins).not.toHaveBeenCalled();
    });
  });

  it('a PIN file in valid UTF-8 beyond ASCII still serves', async () => {
    const pin = `pässwört-${randomBytes(4).toString('hex')}`;
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'utf8-pin', '--pin', pin, '--so-pin', randomBytes(12).toString('hex')], { env: { ...process.env }, stdio: 'ignore' });
    const file = join(hsm.dir, 'utf8.pin');
    writeFileSync(file, `${pin}\n`, { mode: 0o600 });
    const se = Pkcs11SecureEnvironment.open({ uri: uri(`file:${file}`).replace('token=latin1-pin', 'token=utf8-pin') }, { random });
    se.close();
  });
});
