/**
 * Review 171: after a wrong PKCS#11 PIN, `credence ca init` into a folder that existed (empty) left `service-lock.db`
 * behind, the database its lock is held on; docs/pki.md says a folder that existed is left as it was. The lock's
 * database is now removed again when this run made it (still under the lock, as a refused `device init` does), and
 * kept when the folder held it before (a data folder a service or another command had locked).
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { softHsm, softHsmMissing } from './support/softhsm.ts';

const run = async (args: string[], env: Record<string, string> = {}) => {
  const c = capture();
  const code = await main(['ca', 'init', ...args], { ...c.io, env });
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
};

describe.skipIf(softHsmMissing !== undefined)('a ca init refused by its PKCS#11 token in a folder that existed', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('ca-lock-file');
  const uri = token.uri().replace(/&pin-source=[^&]*/, '');
  const wrongPin = { CREDENCE_SECURE_ENVIRONMENT: uri, CREDENCE_PKCS11_PIN: 'deadbeef0123456789' };

  it('leaves an empty folder empty: no service-lock.db, no service.lock', async () => {
    const data = join(hsm.dir, 'empty');
    mkdirSync(data, { mode: 0o700 });
    const refused = await run(['--data', data], wrongPin);
    expect(refused.code, refused.err).toBe(1);
    expect(refused.err).toContain('CKR_PIN_INCORRECT');
    expect(readdirSync(data)).toEqual([]);
  });

  it('keeps the lock database of a folder that held it before', async () => {
    const data = join(hsm.dir, 'locked-before');
    mkdirSync(data, { mode: 0o700 });
    writeFileSync(join(data, 'kept.txt'), 'mine');
    // A first refusal leaves the folder as it was; a lock database put there by another run stays through a second.
    expect((await run(['--data', data], wrongPin)).code).toBe(1);
    expect(readdirSync(data)).toEqual(['kept.txt']);
    const { lockDataFolder } = await import('../adapters/runtime/index.ts');
    lockDataFolder(data, {}).release();
    expect(readdirSync(data).sort()).toEqual(['kept.txt', 'service-lock.db']);
    expect((await run(['--data', data], wrongPin)).code).toBe(1);
    expect(readdirSync(data).sort()).toEqual(['kept.txt', 'service-lock.db']);
  });
});
