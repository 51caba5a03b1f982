import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { installCaCertificate, pkiDir } from '../adapters/driven/pki/index.ts';
import { openDataFolderSecureEnvironment, systemRandom } from '../adapters/runtime/index.ts';
import type { CredenceError } from '../domain/errors.ts';
import { ownerView } from '../domain/ports/index.ts';
import { runCli as run } from './support/cli.ts';
import { derOfPem, hasOpenssl, OpenSslDir, pem } from './support/openssl.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 124: `ca install` of an intermediate's renewal checked only the CA that signed it. Under Trusted Root R ->
 * Sub Root S -> sub-1, a certificate of S's key and subject from Other Root O let a renewal signed with S's key be
 * installed with `--chain S2+O`; the service then served O as the trust bundle, and nothing sub-1 had issued verified
 * under R any more. A two-level chain moved the same way through R's key and subject certified by O. Now the renewed
 * chain must end at the root the current one ends at (same name and key; `chain`, `same_root`), and a refusal writes
 * nothing; the root re-issued with the same key and subject (docs/pki.md, "Renewing a CA") is still accepted.
 */
const folder = temporaryFolders('credence-ca-same-root-');

const ROOT_EXT = 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n';
const CA_EXT = 'keyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n';
const EXT = `[v3_sub]\nbasicConstraints=critical,CA:TRUE,pathlen:1\n${CA_EXT}[v3_int]\nbasicConstraints=critical,CA:TRUE,pathlen:0\n${CA_EXT}`;
const rootCnf = (cn: string) => `[req]\ndistinguished_name=dn\nx509_extensions=v3_root\nprompt=no\n[dn]\nCN=${cn}\n[v3_root]\n${ROOT_EXT}`;
const MOVED = "chain: ends at CN=Other Root, not at CN=Trusted Root, the root CA sub-1's current chain ends at";

/** The sha256 of every file in the folder's PKI directory, by name: what a refused command leaves as it was. */
const caFiles = (data: string): Record<string, string> =>
  Object.fromEntries(readdirSync(pkiDir(data)).sort().map((name) => [name, createHash('sha256').update(readFileSync(join(pkiDir(data), name))).digest('hex')]));

const opened: OpenSslDir[] = [];
afterAll(() => opened.forEach((files) => files.remove()));

/** OpenSSL as the operator of the roots above sub-1, in a folder of its own; sub-1 in a data folder of its own. */
const operator = () => {
  const files = new OpenSslDir();
  opened.push(files);
  files.write('ca.ext', EXT);
  const data = join(folder(), 'data');
  const sign = (request: string, caCert: string, caKey: string, section: 'v3_sub' | 'v3_int', days: number, out: string) =>
    files.ok(['x509', '-req', '-in', request, '-CA', caCert, '-CAkey', caKey, '-CAcreateserial', '-days', String(days), '-sha256', '-extfile', 'ca.ext', '-extensions', section, '-out', out]);
  return {
    files,
    data,
    sign,
    root: async (name: string, cn: string) => {
      await files.genkey(`${name}.key`, 'p256');
      files.write(`${name}.cnf`, rootCnf(cn));
      await files.ok(['req', '-x509', '-new', '-key', `${name}.key`, '-config', `${name}.cnf`, '-days', '3650', '-sha256', '-out', `${name}.pem`]);
    },
    concat: (out: string, ...names: string[]) => files.write(out, names.map((n) => files.read(n).toString('utf8')).join('')),
    /** sub-1 made, its CSR signed by `issuer` (with its key `issuerKey`), installed with `chain`; its renewal's CSR in renew.csr.pem. */
    sub1: async (issuer: string, issuerKey: string, chain: string) => {
      expect((await run(['ca', 'init', '--data', data, '--id', 'sub-1', '--subject', 'CN=Issuing CA sub-1', '--intermediate', '--csr-out', files.file('sub-1.csr.pem')])).code).toBe(0);
      await sign('sub-1.csr.pem', issuer, issuerKey, 'v3_int', 365, 'I.pem');
      const first = await run(['ca', 'install', '--data', data, '--id', 'sub-1', '--certificate', files.file('I.pem'), '--chain', files.file(chain)]);
      expect(first.code, first.err).toBe(0);
      const request = await run(['ca', 'renew', '--data', data, '--id', 'sub-1', '--csr-out', files.file('renew.csr.pem')]);
      expect(request.code, request.err).toBe(0);
    },
    install: (certificate: string, chain: string) =>
      run(['ca', 'install', '--data', data, '--id', 'sub-1', '--certificate', files.file(certificate), '--chain', files.file(chain)]),
  };
};

describe.runIf(hasOpenssl())('ca install of an intermediate renewal', () => {
  it('refuses a three-level renewal whose chain goes on to another root (same_root), writing nothing', async () => {
    const { files, data, sign, root, concat, sub1, install } = operator();
    await root('R', 'Trusted Root');
    await root('O', 'Other Root');
    await files.genkey('S.key', 'p256');
    await files.ok(['req', '-new', '-key', 'S.key', '-subj', '/CN=Sub Root', '-out', 'S.csr.pem']);
    await sign('S.csr.pem', 'R.pem', 'R.key', 'v3_sub', 2000, 'S.pem');
    concat('S+R.pem', 'S.pem', 'R.pem');
    await sub1('S.pem', 'S.key', 'S+R.pem');

    // S2: S's key and subject certified by Other Root; the renewal signed with S's key under S's name
    await sign('S.csr.pem', 'O.pem', 'O.key', 'v3_sub', 2000, 'S2.pem');
    concat('S2+O.pem', 'S2.pem', 'O.pem');
    await sign('renew.csr.pem', 'S2.pem', 'S.key', 'v3_int', 1000, 'I2.pem');
    const before = caFiles(data);
    const moved = await install('I2.pem', 'S2+O.pem');
    expect(moved.code, moved.out).toBe(1);
    expect(moved.err).toContain(MOVED);
    expect(caFiles(data)).toEqual(before);
    // The typed refusal under it: the CLI prints its path and message, the rule is in the problem's issues
    const der = (name: string) => derOfPem(files.read(name).toString('utf8'), 'CERTIFICATE');
    const se = openDataFolderSecureEnvironment(data, { now: () => new Date() });
    const refused = await installCaCertificate({
      dataDir: data, se: ownerView(se, 'maf:infrastructure'), id: 'sub-1', certificate: der('I2.pem'), chain: [der('O.pem'), der('S2.pem')], now: new Date(), random: systemRandom,
    }).then(() => undefined, (error: CredenceError) => error).finally(() => se.close());
    expect(refused?.problem).toMatchObject({ code: 'validation', issues: [{ path: 'chain', rule: 'same_root' }] });
    expect(caFiles(data)).toEqual(before);

    // The same renewal with its chain to the root relying parties trust is installed
    const kept = await install('I2.pem', 'S+R.pem');
    expect(kept.code, kept.err).toBe(0);
    expect(caFiles(data)).not.toEqual(before);
  });

  it('refuses a two-level renewal whose chain goes on to another root, and takes the root re-issued with the same key and subject', async () => {
    const { files, data, sign, root, concat, sub1, install } = operator();
    await root('R', 'Trusted Root');
    await root('O', 'Other Root');
    await sub1('R.pem', 'R.key', 'R.pem');

    // R's key and subject certified by Other Root; the renewal signed by R's key under R's name, as same_issuer asks
    await files.ok(['req', '-new', '-key', 'R.key', '-subj', '/CN=Trusted Root', '-out', 'R.csr.pem']);
    await sign('R.csr.pem', 'O.pem', 'O.key', 'v3_sub', 2000, 'R-by-O.pem');
    concat('R-by-O+O.pem', 'R-by-O.pem', 'O.pem');
    await sign('renew.csr.pem', 'R.pem', 'R.key', 'v3_int', 1000, 'I2.pem');
    const before = caFiles(data);
    const moved = await install('I2.pem', 'R-by-O+O.pem');
    expect(moved.code, moved.out).toBe(1);
    expect(moved.err).toContain(MOVED);
    expect(caFiles(data)).toEqual(before);

    // docs/pki.md: the root re-issued with the same key and subject signs the renewal, installed with it alone
    await files.ok(['req', '-x509', '-new', '-key', 'R.key', '-subj', '/CN=Trusted Root', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-days', '4000', '-sha256', '-out', 'R-new.pem']);
    await sign('renew.csr.pem', 'R-new.pem', 'R.key', 'v3_int', 1000, 'I3.pem');
    const kept = await install('I3.pem', 'R-new.pem');
    expect(kept.code, kept.err).toBe(0);
    expect(caFiles(data)).not.toEqual(before);
    const r = await run(['ca', 'show', '--data', data, '--id', 'sub-1', '--json']);
    const served = (JSON.parse(r.out) as { cas: { chain: string[] }[] }).cas[0]!.chain;
    expect(served).toHaveLength(1);
    files.write('served-root.pem', pem('CERTIFICATE', Buffer.from(served[0]!, 'base64url')));
    expect(await files.ok(['x509', '-in', 'served-root.pem', '-noout', '-subject'])).toContain('CN = Trusted Root');
    expect(await files.ok(['x509', '-in', 'served-root.pem', '-noout', '-enddate'])).toBe(await files.ok(['x509', '-in', 'R-new.pem', '-noout', '-enddate']));
  });
});
