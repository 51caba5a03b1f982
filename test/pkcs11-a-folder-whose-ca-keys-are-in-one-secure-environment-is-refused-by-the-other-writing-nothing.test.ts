/**
 * Review 211: whether a data folder's keys are in its embedded Secure Environment counted access.db's keys, the log
 * key and keys.db's, not the CA files' nor the OCSP signer files'. A folder whose only key was an embedded CA (what
 * `credence ca init` makes), given `ca init --id second` with a PKCS#11 token, exited 0, made the new CA key in the
 * token and wrote pki/second.ca.json: the folder then started under neither setting, both refusals advising to move
 * CA files aside. And the reverse: a folder whose CA is in a token, opened with the embedded setting, had its embedded
 * Secure Environment made and a CA key put there. Both are refused now, before anything is made, the folder and the
 * token as they were.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { serviceConfig } from '../adapters/http/config.ts';
import { startService } from '../adapters/http/start.ts';
import { runCli } from './support/cli.ts';
import { folderFiles } from './support/folder-files.ts';
import { softHsm, softHsmMissing } from './support/softhsm.ts';

type Env = Readonly<Record<string, string>>;

const caKey = (data: string, id = 'default'): string => (JSON.parse(readFileSync(join(data, 'pki', `${id}.ca.json`), 'utf8')) as { keyHandle: string }).keyHandle;

describe.skipIf(softHsmMissing !== undefined)("a folder's CA keys are in the Secure Environment it was made with", () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('token');
  const withToken: Env = { CREDENCE_SECURE_ENVIRONMENT: token.uri().replace(/&pin-source=[^&]*/, ''), CREDENCE_PKCS11_PIN: token.pin };
  const snapshot = (data: string) => ({ folder: folderFiles(data), token: hsm.listObjects(token) });
  const start = (data: string, secureEnvironment?: string) =>
    startService(serviceConfig({ host: '127.0.0.1', port: 0, logLevel: 'error', durability: 'normal', data, ...(secureEnvironment !== undefined ? { secureEnvironment } : {}) }));
  /** A folder whose only key is its embedded CA's. */
  const embeddedCa = async (name: string): Promise<string> => {
    const data = join(hsm.dir, name);
    const made = await runCli(['ca', 'init', '--data', data], {});
    expect(made.code, made.err).toBe(0);
    return data;
  };

  it('a folder with only an embedded CA: ca init --id second and a start with a token are refused naming the CA key; nothing written', async () => {
    const data = await embeddedCa('embedded-ca');
    const before = snapshot(data);

    const second = await runCli(['ca', 'init', '--id', 'second', '--data', data], withToken);
    expect(second.code, second.err).not.toBe(0);
    expect(second.err).toContain(`the data folder's keys are in its embedded Secure Environment`);
    expect(second.err).toContain(`the key of CA default (pki/default.ca.json), ${caKey(data)}`);
    expect(second.err).not.toContain('aside');
    expect(snapshot(data)).toEqual(before);

    await expect(start(data, token.uri())).rejects.toThrow(/the data folder's keys are in its embedded Secure Environment .*the key of CA default/s);
    expect(snapshot(data)).toEqual(before);
    // Its own Secure Environment still serves it.
    expect((await runCli(['ca', 'init', '--id', 'second', '--data', data], {})).code).toBe(0);
  });

  it("an OCSP signer file's current and retired keys count too", async () => {
    const data = await embeddedCa('embedded-ocsp');
    const held = caKey(data);
    // What names the key is now a signer file alone (its handle there as a retired one), the CA file moved aside.
    renameSync(join(data, 'pki', 'default.ca.json'), join(hsm.dir, 'default.ca.json.aside'));
    writeFileSync(join(data, 'pki', 'default.ocsp.json'), JSON.stringify({ version: 1, caId: 'default', keyHandle: `key_${'A'.repeat(24)}`, retired: [held] }));
    const before = snapshot(data);

    const refused = await runCli(['ca', 'init', '--id', 'second', '--data', data], withToken);
    expect(refused.code, refused.err).not.toBe(0);
    expect(refused.err).toContain(`a retired OCSP signing key of CA default (pki/default.ocsp.json), ${held}`);
    expect(snapshot(data)).toEqual(before);
  });

  it('a CA file of a newer version, or malformed, is refused naming it: which keys it names is unknown; nothing written', async () => {
    const data = await embeddedCa('embedded-unreadable');
    const path = join(data, 'pki', 'default.ca.json');
    const original = readFileSync(path, 'utf8');
    for (const [content, said] of [
      [JSON.stringify({ ...(JSON.parse(original) as object), version: 2 }), /newer than this build supports/],
      ['{ not json', /is not valid JSON/],
    ] as const) {
      writeFileSync(path, content);
      const before = snapshot(data);
      const refused = await runCli(['ca', 'init', '--id', 'second', '--data', data], withToken);
      expect(refused.code, refused.err).not.toBe(0);
      expect(refused.err).toMatch(said);
      expect(refused.err).toContain('default.ca.json');
      expect(snapshot(data)).toEqual(before);
    }
  });

  it("the reverse: a folder whose CA is in a token, opened with the embedded setting, is refused by ca init and a start; nothing made", async () => {
    const data = join(hsm.dir, 'token-ca');
    const made = await runCli(['ca', 'init', '--data', data], withToken);
    expect(made.code, made.err).toBe(0);
    const before = snapshot(data);
    expect(Object.keys(before.folder).filter((name) => name.startsWith('secure-environment'))).toEqual([]);

    const second = await runCli(['ca', 'init', '--id', 'second', '--data', data], {});
    expect(second.code, second.err).not.toBe(0);
    expect(second.err).toContain('no embedded Secure Environment');
    expect(second.err).toContain(`the key of CA default (pki/default.ca.json), ${caKey(data)}`);
    expect(snapshot(data)).toEqual(before);

    await expect(start(data)).rejects.toThrow(/the key of CA default.*no embedded Secure Environment/s);
    expect(snapshot(data)).toEqual(before);
    // The token still serves it.
    expect((await runCli(['ca', 'init', '--id', 'second', '--data', data], withToken)).code).toBe(0);
  });
});
