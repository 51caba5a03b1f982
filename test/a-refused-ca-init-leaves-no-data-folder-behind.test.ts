/**
 * Found in review: `credence ca init` took the data folder's lock (making the folder, service-lock.db, the KEK and
 * the Secure Environment files) before refusing a subject that is no distinguished name (exit 1) or a --csr-out in a
 * folder that does not exist (exit 2), so a refused init left a new data folder behind. Both are now checked before
 * the folder is made; what can only be found once the Secure Environment opens (a wrong PKCS#11 PIN) removes the
 * folder the init made. A folder that existed is left as it was.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { softHsm, softHsmMissing } from './support/softhsm.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-ca-init-refused-');

const run = async (args: string[], env: Record<string, string> = {}) => {
  const c = capture();
  const code = await main(['ca', 'init', ...args], { ...c.io, env });
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
};

describe('a refused ca init', () => {
  it('refuses a subject that is no distinguished name (exit 1, naming the rule) before making the folder', async () => {
    const data = join(scratch(), 'new', 'c1');
    const refused = await run(['--data', data, '--subject', 'not a dn ===']);
    expect(refused.code, refused.err).toBe(1);
    expect(refused.err).toContain('subject: ');
    expect(refused.err).toContain('[not_type_value]');
    expect(existsSync(join(data, '..'))).toBe(false);
  });

  it('refuses a --csr-out in a folder that does not exist (exit 2) before making the folder', async () => {
    const root = scratch();
    const data = join(root, 'new', 'c2');
    const refused = await run(['--data', data, '--intermediate', '--csr-out', join(root, 'nonexistent', 'x.csr')]);
    expect(refused.code, refused.err).toBe(2);
    expect(refused.err).toContain('--csr-out: cannot write');
    expect(refused.err).toContain('no folder');
    expect(readdirSync(root)).toEqual([]);
  });

  it('refuses a --csr-out under a file (exit 2) before making the folder', async () => {
    const root = scratch();
    writeFileSync(join(root, 'afile'), '');
    const refused = await run(['--data', join(root, 'c3'), '--intermediate', '--csr-out', join(root, 'afile', 'x.csr')]);
    expect(refused.code, refused.err).toBe(2);
    expect(refused.err).toContain('is a file, not a folder');
    expect(readdirSync(root)).toEqual(['afile']);
  });

  it('leaves a folder that existed as it was', async () => {
    const data = scratch();
    writeFileSync(join(data, 'kept.txt'), 'mine');
    expect((await run(['--data', data, '--subject', 'not a dn ==='])).code).toBe(1);
    expect(readdirSync(data)).toEqual(['kept.txt']);
  });
});

describe.skipIf(softHsmMissing !== undefined)('a ca init refused by its PKCS#11 token', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('ca-refusals');
  const uri = token.uri().replace(/&pin-source=[^&]*/, '');

  it('removes the folder it made when the PIN is wrong', async () => {
    const data = join(hsm.dir, 'new', 'c4');
    const refused = await run(['--data', data], { CREDENCE_SECURE_ENVIRONMENT: uri, CREDENCE_PKCS11_PIN: 'deadbeef0123456789' });
    expect(refused.code, refused.err).toBe(1);
    expect(refused.err).toContain('CKR_PIN_INCORRECT');
    expect(existsSync(join(hsm.dir, 'new'))).toBe(false);
  });

  it('keeps a folder that existed when the PIN is wrong', async () => {
    const data = join(hsm.dir, 'existing');
    mkdirSync(data, { mode: 0o700 });
    writeFileSync(join(data, 'kept.txt'), 'mine');
    expect((await run(['--data', data], { CREDENCE_SECURE_ENVIRONMENT: uri, CREDENCE_PKCS11_PIN: 'deadbeef0123456789' })).code).toBe(1);
    expect(readdirSync(data)).toContain('kept.txt');
  });
});
