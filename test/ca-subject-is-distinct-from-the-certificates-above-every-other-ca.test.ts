import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli as run } from './support/cli.ts';
import { hasOpenssl, OpenSslDir } from './support/openssl.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Found in review 419: the distinct-subject rule (review 231) compared CAs of a folder only with each other, not with
 * the certificates above them. (a) An intermediate sub-a under an external root `CN=Example Root CA`, then
 * `ca init --id sub-b --subject 'CN=Example Root CA'` exited 0: a second root of that name, with another key.
 * (b) A root `CN=Example Root CA` made by `ca init`, then an intermediate installed under an external root of the same
 * name exited 0. Either way /pki/trust-bundle.pem served two anchors of one name. A name is now compared with every
 * certificate each other CA holds (its own and its chain), and every certificate `ca install` is given with every
 * name another CA holds; the same external root above two intermediates (the same name and key) is allowed.
 */
const folder = temporaryFolders('credence-ca-distinct-from-above-');
const pkiFiles = (data: string): Record<string, string> =>
  Object.fromEntries(readdirSync(join(data, 'pki')).sort().map((name) => [name, readFileSync(join(data, 'pki', name), 'utf8')]));

type Issue = { path: string; rule: string; message: string };
const issuesOf = (out: string): Issue[] => (JSON.parse(out) as { errors: Issue[] }).errors;

const ROOT_EXT = '[v3_root]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n';
const INT_EXT = '[v3_int]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n';

describe.runIf(hasOpenssl())('a CA name another CA of the folder holds above it', () => {
  const made: OpenSslDir[] = [];
  afterAll(() => made.forEach((d) => d.remove()));
  // Each test its own folder of OpenSSL files (CSRs are written where `ca init --csr-out` refuses an existing file).
  let files: OpenSslDir;
  beforeEach(() => {
    files = new OpenSslDir();
    made.push(files);
    files.write('int.ext', INT_EXT);
  });

  /** An external self-signed root `<name>.pem` (key `<name>.key`) of subject `subject`. */
  const externalRoot = async (name: string, subject: string): Promise<void> => {
    await files.genkey(`${name}.key`, 'p256');
    files.write(`${name}.cnf`, `[req]\ndistinguished_name=dn\nx509_extensions=v3_root\nprompt=no\n[dn]\n${subject}\n${ROOT_EXT}`);
    await files.ok(['req', '-x509', '-new', '-key', `${name}.key`, '-config', `${name}.cnf`, '-days', '3650', '-sha256', '-out', `${name}.pem`]);
  };
  /** Root `root` signs CSR `csr` into `out`, under `subject` when given, else the CSR's. */
  const sign = (root: string, csr: string, out: string, subject?: string) =>
    files.ok(['x509', '-req', '-in', csr, '-CA', `${root}.pem`, '-CAkey', `${root}.key`, '-CAcreateserial', '-days', '365', '-sha256',
      '-extfile', 'int.ext', '-extensions', 'v3_int', ...(subject === undefined ? [] : ['-subj', subject]), '-out', out]);
  const intermediate = (data: string, id: string) =>
    run(['ca', 'init', '--data', data, '--id', id, '--subject', `CN=Issuing CA ${id}`, '--intermediate', '--csr-out', files.file(`${id}.csr.pem`)]);
  const install = (data: string, id: string, certificate: string, root: string) =>
    run(['ca', 'install', '--data', data, '--id', id, '--certificate', files.file(certificate), '--chain', files.file(`${root}.pem`), '--json']);
  const stateOf = async (data: string, id: string): Promise<string> =>
    (JSON.parse((await run(['ca', 'show', '--data', data, '--id', id, '--json'])).out) as { cas: { state: string }[] }).cas[0]!.state;

  it('refuses ca init of a subject an installed intermediate has above it; the same root above a second intermediate is allowed', async () => {
    await externalRoot('example', 'CN=Example Root CA');
    const data = join(folder(), 'data');
    expect((await intermediate(data, 'sub-a')).code).toBe(0);
    await sign('example', 'sub-a.csr.pem', 'sub-a.pem');
    const first = await install(data, 'sub-a', 'sub-a.pem', 'example');
    expect(first.code, first.out + first.err).toBe(0);
    const before = pkiFiles(data);

    for (const subject of ['CN=Example Root CA', 'cn=EXAMPLE  root CA']) {
      for (const extra of [[], ['--intermediate', '--csr-out', files.file('sub-b.csr.pem')]]) {
        const refused = await run(['ca', 'init', '--data', data, '--id', 'sub-b', '--subject', subject, ...extra, '--json']);
        expect(refused.code, refused.err).toBe(1);
        const [issue] = issuesOf(refused.out);
        expect(issue).toMatchObject({ path: 'subject', rule: 'distinct_subject' });
        expect(issue!.message).toContain('CA sub-a');
        expect(issue!.message).toContain('chain[0]');
        expect(issue!.message).toContain('choose another --subject');
      }
    }
    expect(pkiFiles(data)).toEqual(before);

    // A second intermediate under the very same root: one anchor, one name, one key
    expect((await intermediate(data, 'sub-c')).code).toBe(0);
    await sign('example', 'sub-c.csr.pem', 'sub-c.pem');
    const second = await install(data, 'sub-c', 'sub-c.pem', 'example');
    expect(second.code, second.out + second.err).toBe(0);
  });

  it('refuses ca install of a chain holding another root of a name another CA holds, or a certificate of such a name', async () => {
    await externalRoot('example', 'CN=Example Root CA');
    await externalRoot('impostor', 'CN=Example Root CA'); // the same name, another key
    await externalRoot('other', 'CN=Other Root CA');
    const data = join(folder(), 'data');
    expect((await intermediate(data, 'sub-a')).code).toBe(0);
    await sign('example', 'sub-a.csr.pem', 'sub-a.pem');
    expect((await install(data, 'sub-a', 'sub-a.pem', 'example')).code).toBe(0);
    expect((await intermediate(data, 'sub-d')).code).toBe(0);
    const before = pkiFiles(data);

    await sign('impostor', 'sub-d.csr.pem', 'sub-d-impostor.pem');
    const underImpostor = await install(data, 'sub-d', 'sub-d-impostor.pem', 'impostor');
    expect(underImpostor.code, underImpostor.err).toBe(1);
    const [chainIssue] = issuesOf(underImpostor.out);
    expect(chainIssue).toMatchObject({ path: 'chain[0]', rule: 'distinct_subject' });
    expect(chainIssue!.message).toContain('CA sub-a');

    await sign('other', 'sub-d.csr.pem', 'sub-d-renamed.pem', '/CN=Example Root CA');
    const renamed = await install(data, 'sub-d', 'sub-d-renamed.pem', 'other');
    expect(renamed.code, renamed.err).toBe(1);
    expect(issuesOf(renamed.out)[0]).toMatchObject({ path: 'certificate', rule: 'distinct_subject' });

    expect(pkiFiles(data)).toEqual(before);
    expect(await stateOf(data, 'sub-d')).toBe('awaiting_certificate');
  });

  it('refuses ca install of an intermediate under an external root of the name a root of the folder has', async () => {
    await externalRoot('example', 'CN=Example Root CA');
    const data = join(folder(), 'data');
    expect((await run(['ca', 'init', '--data', data, '--subject', 'CN=Example Root CA'])).code).toBe(0);
    expect((await intermediate(data, 'sub-a')).code).toBe(0);
    await sign('example', 'sub-a.csr.pem', 'sub-a.pem');
    const before = pkiFiles(data);

    const refused = await install(data, 'sub-a', 'sub-a.pem', 'example');
    expect(refused.code, refused.err).toBe(1);
    const [issue] = issuesOf(refused.out);
    expect(issue).toMatchObject({ path: 'chain[0]', rule: 'distinct_subject' });
    expect(issue!.message).toContain("CA default's subject");
    expect(pkiFiles(data)).toEqual(before);
    expect(await stateOf(data, 'sub-a')).toBe('awaiting_certificate');
  });
});
