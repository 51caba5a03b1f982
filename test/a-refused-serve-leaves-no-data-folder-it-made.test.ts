/**
 * Found in review: `credence serve` and `credence start` took the data folder's lock (making the folder and
 * service-lock.db) before steps that can still refuse, so a start refused by a wrong PKCS#11 PIN, a missing PIN or an
 * unusable module left a new folder behind. A folder the start made is now removed again when it refuses; one that
 * existed is left as it was. A wrong PIN is known only once the token is opened, so this is a cleanup, not a check.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { softHsm, softHsmMissing } from './support/softhsm.ts';

describe.skipIf(softHsmMissing !== undefined)('a serve or start refused at its Secure Environment', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('refusals');
  // The PIN from the environment: the URI carries none.
  const uri = token.uri().replace(/&pin-source=[^&]*/, '');
  let n = 0;
  const fresh = (): string => join(hsm.dir, `new-${++n}`, 'data');

  // The service reads the PIN variable from the process's environment (as a real serve does), the rest from `env`.
  const run = async (args: string[], env: Record<string, string>) => {
    const c = capture();
    const before = process.env['CREDENCE_PKCS11_PIN'];
    const pin = env['CREDENCE_PKCS11_PIN'];
    if (pin !== undefined) process.env['CREDENCE_PKCS11_PIN'] = pin;
    else delete process.env['CREDENCE_PKCS11_PIN'];
    try {
      const code = await main(args, { ...c.io, env: { PORT: '', ...env } });
      return { code, err: c.err.join('\n') };
    } finally {
      if (before !== undefined) process.env['CREDENCE_PKCS11_PIN'] = before;
      else delete process.env['CREDENCE_PKCS11_PIN'];
    }
  };

  it.each([
    ['serve with a wrong PIN', 'serve', uri, { CREDENCE_PKCS11_PIN: 'deadbeef0123456789' }, 'CKR_PIN_INCORRECT'],
    ['serve without a PIN', 'serve', uri, {}, 'CREDENCE_PKCS11_PIN'],
    ['serve with a module that is none', 'serve', 'pkcs11:token=refusals?module-path=/etc/passwd', { CREDENCE_PKCS11_PIN: 'x' }, 'module-path'],
    ['start with a wrong PIN', 'start', uri, { CREDENCE_PKCS11_PIN: 'deadbeef0123456789' }, 'CKR_PIN_INCORRECT'],
  ])('%s is refused and leaves no folder where there was none', async (_what, command, setting, env, said) => {
    const data = fresh();
    const refused = await run([command, '--data', data, '--port', '0'], { CREDENCE_SECURE_ENVIRONMENT: setting, ...env });
    expect(refused.code, refused.err).toBe(1);
    expect(refused.err).toContain(said);
    expect(existsSync(data)).toBe(false);
    // The folder made above it too: nothing of the refused start is left.
    expect(existsSync(join(data, '..'))).toBe(false);
  });

  it('a refused serve leaves a folder that existed, and what was in it', async () => {
    const data = fresh();
    mkdirSync(data, { recursive: true, mode: 0o700 });
    writeFileSync(join(data, 'kept.txt'), 'mine');
    const refused = await run(['serve', '--data', data, '--port', '0'], { CREDENCE_SECURE_ENVIRONMENT: uri, CREDENCE_PKCS11_PIN: 'deadbeef0123456789' });
    expect(refused.code).toBe(1);
    expect(readdirSync(data)).toContain('kept.txt');
  });
});
