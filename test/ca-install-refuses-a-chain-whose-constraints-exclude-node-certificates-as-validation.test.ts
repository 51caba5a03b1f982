import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli as run } from './support/cli.ts';
import { hasOpenssl, OpenSslDir } from './support/openssl.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Found in review 419: an intermediate signed with `nameConstraints=critical,permitted;URI:.example.com` was refused
 * by `ca install` as `bad_signature` "Bad request signature", naming the throw-away probe
 * (`certificate chain rejected: name_constraints_violated (CN=credence-ca-install-probe)`). Path validation of what
 * the CA would issue failing is a `validation` refusal: the certificate (or `chain`, when the constraint is above it),
 * the rejection's reason as the rule, and a message saying what a node certificate is and what to do.
 */
const folder = temporaryFolders('credence-ca-install-constraints-');
const pkiFiles = (data: string): Record<string, string> =>
  Object.fromEntries(readdirSync(join(data, 'pki')).sort().map((name) => [name, readFileSync(join(data, 'pki', name), 'utf8')]));

const CONSTRAINT = 'nameConstraints=critical,permitted;URI:.example.com\n';

describe.runIf(hasOpenssl())('ca install of a chain whose name constraints exclude node certificates', () => {
  const files = new OpenSslDir();
  afterAll(() => files.remove());

  const refusal = async (where: 'certificate' | 'root') => {
    const data = join(folder(), 'data');
    const csr = files.file(`${where}.csr.pem`);
    expect((await run(['ca', 'init', '--data', data, '--id', 'sub-a', '--intermediate', '--csr-out', csr])).code).toBe(0);
    await files.genkey(`${where}-root.key`, 'p256');
    files.write(`${where}-root.cnf`,
      `[req]\ndistinguished_name=dn\nx509_extensions=v3_root\nprompt=no\n[dn]\nCN=Example Root CA\n[v3_root]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n${where === 'root' ? CONSTRAINT : ''}`);
    files.write(`${where}-int.ext`,
      `[v3_int]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n${where === 'certificate' ? CONSTRAINT : ''}`);
    await files.ok(['req', '-x509', '-new', '-key', `${where}-root.key`, '-config', `${where}-root.cnf`, '-days', '3650', '-sha256', '-out', `${where}-root.pem`]);
    await files.ok(['x509', '-req', '-in', csr, '-CA', `${where}-root.pem`, '-CAkey', `${where}-root.key`, '-CAcreateserial', '-days', '365', '-sha256',
      '-extfile', `${where}-int.ext`, '-extensions', 'v3_int', '-out', `${where}-int.pem`]);
    const before = pkiFiles(data);
    const refused = await run(['ca', 'install', '--data', data, '--id', 'sub-a', '--certificate', files.file(`${where}-int.pem`), '--chain', files.file(`${where}-root.pem`), '--json']);
    expect(refused.code, refused.err).toBe(1);
    expect(pkiFiles(data)).toEqual(before);
    const problem = JSON.parse(refused.out) as { type: string; errors: { path: string; rule: string; message: string }[] };
    expect(problem.type).toMatch(/\/validation$/);
    expect(refused.out).not.toContain('credence-ca-install-probe');
    const [issue] = problem.errors;
    expect(issue!.message).toContain('a certificate CA sub-a would issue');
    expect(issue!.message).toContain('urn:onem2m:node:');
    expect(issue!.message).toContain('clientAuth');
    expect(issue!.message).toContain('name_constraints_violated');
    expect(issue!.message).toContain('have it signed without constraints that exclude node certificates');
    return issue!;
  };

  it('in the intermediate itself: validation, path certificate, rule name_constraints_violated, nothing written', async () => {
    expect(await refusal('certificate')).toMatchObject({ path: 'certificate', rule: 'name_constraints_violated' });
  });

  it('in the root above it: validation, path chain, rule name_constraints_violated, nothing written', async () => {
    expect(await refusal('root')).toMatchObject({ path: 'chain', rule: 'name_constraints_violated' });
  });
});
