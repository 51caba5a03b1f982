/**
 * Review 209: a data folder made with the embedded Secure Environment, opened with CREDENCE_SECURE_ENVIRONMENT naming a
 * PKCS#11 token, was told its current signing key was not in the token (another token's, or destroyed there), and
 * advised `token rotate-key --withdraw-missing <handle>`, which exited 0, revoked every token and left the key in the
 * folder's secure-environment.sqlite. Now `token create`, `--withdraw-missing` and `serve` are refused naming the
 * embedded Secure Environment, and nothing is written, in the folder or the token. And a PKCS#11 start refused for a
 * current key the token does not hold (another token) makes no log key there and no log files first.
 */
import { mkdirSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { signingKeyHandles } from '../adapters/driven/access/signing-key-handles.ts';
import { serviceConfig } from '../adapters/http/config.ts';
import { startService } from '../adapters/http/start.ts';
import { runCli } from './support/cli.ts';
import { folderFiles } from './support/folder-files.ts';
import { softHsm, softHsmMissing, type TestToken } from './support/softhsm.ts';

type Env = Readonly<Record<string, string>>;
const current = (data: string): string => signingKeyHandles(data).find((k) => k.retiredAt === undefined)!.handle;

describe.skipIf(softHsmMissing !== undefined)('a folder whose keys are in its embedded Secure Environment, given a PKCS#11 token', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('token');
  const another = hsm.token('another');
  const envOf = (t: TestToken): Env => ({ CREDENCE_SECURE_ENVIRONMENT: t.uri().replace(/&pin-source=[^&]*/, ''), CREDENCE_PKCS11_PIN: t.pin });
  const withToken = envOf(token);
  const snapshot = (data: string) => ({ folder: folderFiles(data), token: hsm.listObjects(token), another: hsm.listObjects(another) });

  it('refuses token create and rotate-key --withdraw-missing naming the embedded Secure Environment; nothing written', async () => {
    const data = join(hsm.dir, 'made-by-token-create');
    expect((await runCli(['token', 'create', '--role', 'auditor', '--subject', 'alice', '--ttl', '1h', '--data', data], {})).code).toBe(0);
    const handle = current(data);
    const before = snapshot(data);

    const create = await runCli(['token', 'create', '--role', 'auditor', '--subject', 'bob', '--ttl', '1h', '--data', data], withToken);
    expect(create.code).toBe(1);
    expect(create.err).toContain(`the data folder's keys are in its embedded Secure Environment`);
    expect(create.err).toContain(`the API token signing key access.db records as current, ${handle}`);
    expect(create.err).toContain('cannot be switched');
    expect(create.err).not.toContain('--withdraw-missing');

    const withdraw = await runCli(['token', 'rotate-key', '--withdraw-missing', handle, '--data', data], withToken);
    expect(withdraw.code).toBe(1);
    expect(withdraw.err).toContain(`the data folder's keys are in its embedded Secure Environment`);
    expect(snapshot(data)).toEqual(before);

    // Without the setting, the folder's own Secure Environment still signs: nothing was withdrawn.
    const list = await runCli(['token', 'list', '--json', '--data', data], {});
    expect((JSON.parse(list.out) as { tokens: { subject: string; state: string }[] }).tokens.map((t) => [t.subject, t.state])).toEqual([['alice', 'active']]);
  });

  it('refuses every other command that opens the token too (ca init, key list), nothing written, no lock file left', async () => {
    const data = join(hsm.dir, 'made-for-a-ca');
    expect((await runCli(['token', 'create', '--role', 'auditor', '--subject', 'alice', '--ttl', '1h', '--data', data], {})).code).toBe(0);
    const before = snapshot(data);
    const keyCommands = [
      ['key', 'list', '--token-not-shared', '--data', data],
      ['key', 'destroy', '--owner', 'credence:access', '--handle', 'key_NamedByNoRecordOfTheFold', '--token-not-shared', '--data', data],
    ];
    for (const args of [['ca', 'init', '--id', 'fleet', '--data', data], ...keyCommands]) {
      const refused = await runCli(args, withToken);
      expect(refused.code, refused.err).toBe(1);
      expect(refused.err).toContain(`the data folder's keys are in its embedded Secure Environment`);
      expect(snapshot(data)).toEqual(before);
    }
  });

  it('refuses a start, its log files moved aside, before any key is made in the token or any file written', async () => {
    const data = join(hsm.dir, 'served-embedded');
    const config = (secureEnvironment?: string) =>
      serviceConfig({ host: '127.0.0.1', port: 0, logLevel: 'error', durability: 'normal', data, ...(secureEnvironment !== undefined ? { secureEnvironment } : {}) });
    await (await startService(config())).close();
    expect((await runCli(['token', 'create', '--role', 'auditor', '--subject', 'alice', '--ttl', '1h', '--data', data], {})).code).toBe(0);
    // The log's files moved aside, as a new log is started: no transparency.handle names the embedded log key.
    const aside = join(hsm.dir, 'served-embedded.old-log');
    mkdirSync(aside);
    for (const name of readdirSync(data).filter((n) => n.startsWith('transparency.'))) renameSync(join(data, name), join(aside, name));
    expect(readdirSync(aside)).toContain('transparency.handle');
    const before = snapshot(data);

    await expect(startService(config(token.uri()))).rejects.toThrow(/the data folder's keys are in its embedded Secure Environment .*cannot be switched/s);
    expect(snapshot(data)).toEqual(before);
  });

  it('a PKCS#11 start refused for a current key the token does not hold makes no log key there and writes no log file', async () => {
    const data = join(hsm.dir, 'of-another-token');
    expect((await runCli(['token', 'create', '--role', 'auditor', '--subject', 'alice', '--ttl', '1h', '--data', data], envOf(another))).code).toBe(0);
    const before = snapshot(data);

    await expect(
      startService(serviceConfig({ host: '127.0.0.1', port: 0, logLevel: 'error', durability: 'normal', data, secureEnvironment: token.uri() })),
    ).rejects.toThrow(/not in the PKCS#11 token/);
    expect(snapshot(data)).toEqual(before);
  });
});
