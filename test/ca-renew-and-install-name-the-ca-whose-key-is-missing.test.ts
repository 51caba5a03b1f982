/**
 * Review 364, finding 2: with a CA's key gone from the Secure Environment, `credence ca renew` (a root in place, an
 * intermediate's CSR) and `credence ca install` answered only "refused (not_found): key key_… does not exist", naming
 * neither the CA nor what to do, where `serve` and `ca show` on the same folder name the CA, its file and the remedy.
 * Each now refuses with the error the start gives (`caKeyMissing`: path `pki/<id>.ca.json: keyHandle`, rule
 * `ca_key_held`, restore or retire the CA), the CA file left as it was: with the embedded Secure Environment (the key
 * destroyed from its key folder) and with a SoftHSM2 token (the key's objects deleted with pkcs11-tool).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { caFilePath } from '../adapters/driven/pki/index.ts';
import { openDataFolderSecureEnvironment } from '../adapters/runtime/index.ts';
import { ownerView, type KeyHandle } from '../domain/ports/index.ts';
import { runCli as run } from './support/cli.ts';
import { hasOpenssl, OpenSslDir } from './support/openssl.ts';
import { withServedHsmFolder } from './support/served-hsm-folder.ts';
import { softHsm, softHsmMissing } from './support/softhsm.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-ca-key-missing-renew-');

const keyHandleOf = (data: string, id: string): KeyHandle => (JSON.parse(readFileSync(caFilePath(data, id), 'utf8')) as { keyHandle: KeyHandle }).keyHandle;

/** Destroys CA `id`'s key in the data folder's embedded Secure Environment, as someone deleting it would. */
const destroyEmbeddedKey = async (data: string, id: string): Promise<void> => {
  const se = openDataFolderSecureEnvironment(data, { now: () => new Date() });
  try {
    await ownerView(se, 'maf:infrastructure').destroy(keyHandleOf(data, id));
  } finally {
    se.close();
  }
};

/** Refused exit 1 with the start's error for CA `id` (its file, the rule, the remedy), not the port's bare not_found; the file unchanged. */
const expectNamesTheCa = async (data: string, id: string, args: readonly string[], env?: Readonly<Record<string, string>>): Promise<void> => {
  const before = readFileSync(caFilePath(data, id), 'utf8');
  const refused = await run([...args, '--data', data], env);
  expect(refused.code, refused.err).toBe(1);
  expect(refused.err).toContain('refused (validation)');
  expect(refused.err).toContain(`pki/${id}.ca.json: keyHandle`);
  expect(refused.err).toContain(`the Secure Environment does not hold the key ${keyHandleOf(data, id)} of CA ${id}`);
  expect(refused.err).toMatch(/restore the Secure Environment from a backup that holds the key/);
  expect(refused.err).toContain(`or retire CA ${id}`);
  expect(refused.err).not.toMatch(/not_found|does not exist/);
  expect(readFileSync(caFilePath(data, id), 'utf8')).toBe(before);
};

describe('ca renew and ca install, the CA key missing from the embedded Secure Environment', () => {
  const files = new OpenSslDir();
  afterAll(() => files.remove());

  it('ca renew of a root names the CA and the remedy', async () => {
    const data = join(folder(), 'data');
    for (const id of ['default', 'sub-1']) expect((await run(['ca', 'init', '--data', data, '--id', id])).code).toBe(0);
    await destroyEmbeddedKey(data, 'default');
    await expectNamesTheCa(data, 'default', ['ca', 'renew', '--id', 'default', '--validity-days', '400']);
  });

  it('ca install of a CA awaiting its certificate names the CA and the remedy', async () => {
    const data = join(folder(), 'data');
    expect((await run(['ca', 'init', '--data', data])).code).toBe(0);
    const csr = join(folder(), 'inter.csr.pem');
    expect((await run(['ca', 'init', '--data', data, '--id', 'inter', '--intermediate', '--csr-out', csr])).code).toBe(0);
    await destroyEmbeddedKey(data, 'inter');
    // Any CA certificate reaches the key check: the folder's root's own, as PEM.
    const root = Buffer.from((JSON.parse(readFileSync(caFilePath(data, 'default'), 'utf8')) as { certificate: string }).certificate, 'base64url');
    const pem = `-----BEGIN CERTIFICATE-----\n${root.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
    const certificate = files.write('root-as-inter.pem', pem);
    await expectNamesTheCa(data, 'inter', ['ca', 'install', '--id', 'inter', '--certificate', certificate, '--chain', certificate]);
  });

  it.runIf(hasOpenssl())("an active intermediate: ca renew --csr-out and ca install of its renewal name the CA and the remedy", async () => {
    const data = join(folder(), 'data');
    expect((await run(['ca', 'init', '--data', data])).code).toBe(0);
    const csr = files.file('int.csr.pem');
    expect((await run(['ca', 'init', '--data', data, '--id', 'sub-1', '--subject', 'CN=Issuing CA sub-1', '--intermediate', '--csr-out', csr])).code).toBe(0);
    await files.genkey('root.key', 'p256');
    files.write('root.cnf', '[req]\ndistinguished_name=dn\nx509_extensions=v3_root\nprompt=no\n[dn]\nCN=External Root\n[v3_root]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n');
    files.write('int.ext', '[v3_int]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
    await files.ok(['req', '-x509', '-new', '-key', 'root.key', '-config', 'root.cnf', '-days', '3650', '-sha256', '-out', 'root.pem']);
    const sign = (out: string, days: number) =>
      files.ok(['x509', '-req', '-in', 'int.csr.pem', '-CA', 'root.pem', '-CAkey', 'root.key', '-CAcreateserial', '-days', String(days), '-sha256', '-extfile', 'int.ext', '-extensions', 'v3_int', '-out', out]);
    await sign('int.pem', 365);
    await sign('int-renewed.pem', 730);
    const installed = await run(['ca', 'install', '--data', data, '--id', 'sub-1', '--certificate', files.file('int.pem'), '--chain', files.file('root.pem')]);
    expect(installed.code, installed.err).toBe(0);

    await destroyEmbeddedKey(data, 'sub-1');
    await expectNamesTheCa(data, 'sub-1', ['ca', 'renew', '--id', 'sub-1', '--csr-out', files.file('renew.csr.pem')]);
    await expectNamesTheCa(data, 'sub-1', ['ca', 'install', '--id', 'sub-1', '--certificate', files.file('int-renewed.pem'), '--chain', files.file('root.pem')]);
  }, 60_000);
});

describe.skipIf(softHsmMissing !== undefined)('ca renew, the CA key deleted from a SoftHSM2 token', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('cakeymissing');
  const env = { CREDENCE_SECURE_ENVIRONMENT: token.uri().replace(/&pin-source=[^&]*/, ''), CREDENCE_PKCS11_PIN: token.pin };

  it('names the CA and the remedy', async () => {
    const data = join(folder(), 'data');
    expect((await run(['ca', 'init', '--data', data], env)).code).toBe(0);
    // Served once, so that the token still holds keys the folder names (the infrastructure's) once the CA's is gone.
    await withServedHsmFolder(hsm, token, data, async () => undefined);
    hsm.deleteObjects(token, keyHandleOf(data, 'default'), ['privkey', 'pubkey']);
    await expectNamesTheCa(data, 'default', ['ca', 'renew', '--validity-days', '400'], env);
  }, 90_000);
});
