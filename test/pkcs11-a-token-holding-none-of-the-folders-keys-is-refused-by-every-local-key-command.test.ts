/**
 * Review 230: local commands took a PKCS#11 token that holds none of the keys the data folder names (another token
 * than the one its service runs with). `ca init` (and `--intermediate`) exited 0, wrote pki/default.ca.json and made
 * the CA key in that token, after which the folder's own token refused `serve`; `key list --unnamed` and `key destroy`
 * exited 0 saying nothing was unnamed or the key was already gone, the key left in the folder's token; `token create`
 * said the same refusal as bad usage (exit 2), `serve` exit 1. Now each is refused exit 1 (rule
 * `secure_environment_of_the_folder`), naming the keys the folder names, nothing made, destroyed or written (no lock
 * file left), both tokens as they were; the folder's own token still works, and a new folder naming no key takes any.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { folderFiles } from './support/folder-files.ts';
import { withServedHsmFolder } from './support/served-hsm-folder.ts';
import { softHsm, softHsmMissing, type TestToken } from './support/softhsm.ts';

type Env = Readonly<Record<string, string>>;

describe.skipIf(softHsmMissing !== undefined)("a PKCS#11 token that holds none of the folder's keys", () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  // Made before the module is first opened in this process (support/softhsm.ts).
  const folders = hsm.token('credence');
  const other = hsm.token('other');
  const envOf = (t: TestToken): Env => ({ CREDENCE_SECURE_ENVIRONMENT: t.uri().replace(/&pin-source=[^&]*/, ''), CREDENCE_PKCS11_PIN: t.pin });
  const [right, wrong] = [envOf(folders), envOf(other)];
  const data = join(hsm.dir, 'served');
  const unnamed = `key_${'A'.repeat(24)}`;
  const snapshot = () => ({ folder: folderFiles(data), folders: hsm.listObjects(folders), other: hsm.listObjects(other) });
  /** A refusal by the folder's records, exit 1, that made, destroyed and wrote nothing. */
  const expectRefused = async (args: string[], before: ReturnType<typeof snapshot>) => {
    const refused = await runCli([...args, '--data', data], wrong);
    expect(refused.code, refused.err).toBe(1);
    expect(refused.err).toContain('refused (validation): invalid Secure Environment configuration: secureEnvironment:');
    expect(refused.err).toMatch(/the data folder names \d+ keys \(.*key_\S+.*\) and the PKCS#11 token this command was given holds none of them/s);
    expect(refused.err).toContain('Nothing was made, destroyed or written');
    expect(snapshot()).toEqual(before);
    return refused;
  };

  it('ca init, ca init --intermediate, ca renew, key list, key destroy, token create: refused exit 1, nothing written; the right token works', async () => {
    await withServedHsmFolder(hsm, folders, data, async () => undefined);
    expect((await runCli(['token', 'create', '--role', 'auditor', '--subject', 'alice', '--ttl', '1h', '--data', data], right)).code).toBe(0);
    const before = snapshot();
    expect(existsSync(join(data, 'pki', 'default.ca.json'))).toBe(false);

    await expectRefused(['ca', 'init'], before);
    const csr = join(hsm.dir, 'intermediate.csr');
    await expectRefused(['ca', 'init', '--id', 'inter', '--intermediate', '--csr-out', csr], before);
    expect(existsSync(csr)).toBe(false);
    await expectRefused(['key', 'list', '--unnamed', '--token-not-shared'], before);
    // A key nothing names: with the folder's token it would be destroyed, with another said to be gone already.
    await expectRefused(['key', 'destroy', '--owner', 'maf:infrastructure', '--handle', unnamed, '--token-not-shared'], before);
    const create = await runCli(['token', 'create', '--role', 'auditor', '--subject', 'bob', '--ttl', '1h', '--data', data], wrong);
    expect(create.code, create.err).toBe(1);
    expect(snapshot()).toEqual(before);

    // The folder's own token: each works.
    const listed = await runCli(['key', 'list', '--unnamed', '--token-not-shared', '--data', data], right);
    expect(listed.code, listed.err).toBe(0);
    const gone = await runCli(['key', 'destroy', '--owner', 'maf:infrastructure', '--handle', unnamed, '--token-not-shared', '--data', data], right);
    expect(gone.code, gone.err).toBe(0);
    expect(gone.out).toContain('already destroyed, or never there');
    const made = await runCli(['ca', 'init', '--data', data], right);
    expect(made.code, made.err).toBe(0);
    expect((await runCli(['token', 'create', '--role', 'auditor', '--subject', 'bob', '--ttl', '1h', '--data', data], right)).code).toBe(0);

    // A key the folder's token holds and nothing names (an intermediate CA's, its file removed): listed and destroyed
    // only with that token.
    expect((await runCli(['ca', 'init', '--id', 'inter', '--intermediate', '--csr-out', csr, '--data', data], right)).code).toBe(0);
    const interKey = (JSON.parse(readFileSync(join(data, 'pki', 'inter.ca.json'), 'utf8')) as { keyHandle: string }).keyHandle;
    rmSync(join(data, 'pki', 'inter.ca.json'));
    const leftBefore = snapshot();
    await expectRefused(['key', 'list', '--unnamed', '--token-not-shared'], leftBefore);
    await expectRefused(['key', 'destroy', '--owner', 'maf:infrastructure', '--handle', interKey, '--token-not-shared'], leftBefore);
    const unnamedListed = await runCli(['key', 'list', '--unnamed', '--token-not-shared', '--data', data], right);
    expect(unnamedListed.out).toContain(`${interKey} maf:infrastructure`);
    const destroyed = await runCli(['key', 'destroy', '--owner', 'maf:infrastructure', '--handle', interKey, '--token-not-shared', '--data', data], right);
    expect(destroyed.code, destroyed.err).toBe(0);
    expect(destroyed.out).toContain(`destroyed key ${interKey}`);

    // And an existing CA is renewed only with the folder's token.
    const renewBefore = snapshot();
    await expectRefused(['ca', 'renew', '--validity-days', '3651'], renewBefore);
    const renewed = await runCli(['ca', 'renew', '--validity-days', '3651', '--data', data], right);
    expect(renewed.code, renewed.err).toBe(0);
  });

  it('a new folder, naming no key yet, takes any token', async () => {
    const fresh = join(hsm.dir, 'fresh');
    const made = await runCli(['ca', 'init', '--data', fresh], wrong);
    expect(made.code, made.err).toBe(0);
  });
});
