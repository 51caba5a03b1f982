import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRootCa } from '../adapters/driven/pki/index.ts';
import { openDataFolderSecureEnvironment, systemRandom } from '../adapters/runtime/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import { memorySecureEnvironment } from './crypto-fixtures.ts';
import { runCli as run } from './support/cli.ts';
import { hasOpenssl, OpenSslDir } from './support/openssl.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Found in review 231: `ca init --id sub-7 --subject 'CN=Credence CA default'` beside `default` exited 0, so the
 * folder held two issuers of one name with different keys, and two sets of CRLs under one issuer name (clients that
 * look CRLs or issuers up by name alone may take the wrong one). A subject another CA of the folder has (as encoded,
 * or equal by RFC 5280 7.1: case and insignificant spaces aside) is refused before any key is made; so is a
 * certificate `ca install` gives an intermediate under such a subject.
 */
const folder = temporaryFolders('credence-ca-distinct-subject-');

/** The handles of the infrastructure keys the folder's Secure Environment holds. */
const keysOf = async (data: string): Promise<string[]> => {
  const se = openDataFolderSecureEnvironment(data, { now: () => new Date() });
  try {
    return (await se.listKeys('maf:infrastructure', { limit: 1000 })).keys.map((k) => k.handle).sort();
  } finally {
    se.close();
  }
};
const pkiFiles = (data: string): string[] => readdirSync(join(data, 'pki')).sort();

describe('a CA subject another CA of the folder has', () => {
  const files = new OpenSslDir();
  afterAll(() => files.remove());

  it('is refused by ca init, root or intermediate (exit 1, subject, distinct_subject), nothing written and no key made', async () => {
    const data = join(folder(), 'data');
    expect((await run(['ca', 'init', '--data', data])).code).toBe(0);
    const before = { files: pkiFiles(data), keys: await keysOf(data) };

    for (const subject of ['CN=Credence CA default', 'cn=CREDENCE CA  Default']) {
      const refused = await run(['ca', 'init', '--data', data, '--id', 'sub-7', '--subject', subject, '--json']);
      expect(refused.code, refused.err).toBe(1);
      const [issue] = (JSON.parse(refused.out) as { errors: { path: string; rule: string; message: string }[] }).errors;
      expect(issue).toMatchObject({ path: 'subject', rule: 'distinct_subject' });
      expect(issue!.message).toContain("is CA default's subject");
      expect(issue!.message).toContain('choose another --subject');
    }
    const csr = join(folder(), 'sub-7.csr.pem');
    const intermediate = await run(['ca', 'init', '--data', data, '--id', 'sub-7', '--subject', 'CN=Credence CA default', '--intermediate', '--csr-out', csr]);
    expect(intermediate.code, intermediate.err).toBe(1);
    expect(intermediate.err).toContain("subject: is CA default's subject");
    expect(existsSync(csr)).toBe(false);
    expect(pkiFiles(data)).toEqual(before.files);
    expect(await keysOf(data)).toEqual(before.keys);

    // A CA awaiting its certificate holds its subject too
    expect((await run(['ca', 'init', '--data', data, '--id', 'sub-8', '--subject', 'CN=Grid Issuing CA,O=City', '--intermediate', '--csr-out', join(folder(), 'sub-8.csr.pem')])).code).toBe(0);
    const again = await run(['ca', 'init', '--data', data, '--id', 'sub-9', '--subject', 'CN=Grid Issuing CA,O=City']);
    expect(again.code, again.err).toBe(1);
    expect(again.err).toContain('CA sub-8');

    // A distinct subject is made as before
    const distinct = await run(['ca', 'init', '--data', data, '--id', 'sub-7', '--subject', 'CN=Credence CA sub-7']);
    expect(distinct.code, distinct.err).toBe(0);
  });

  it('is refused before the Secure Environment is asked for a key', async () => {
    const dataDir = folder();
    const se = ownerView(memorySecureEnvironment('distinct-subject', () => new Date()), 'maf:infrastructure');
    await createRootCa({ dataDir, se, id: 'default', kind: 'p256', now: new Date(), random: systemRandom });
    let generated = 0;
    const counting = { ...se, generate: (...args: Parameters<typeof se.generate>) => ((generated += 1), se.generate(...args)) };
    const refused = await createRootCa({ dataDir, se: counting, id: 'sub-7', kind: 'p256', subject: 'CN=Credence CA default', now: new Date(), random: systemRandom }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ problem: { code: 'validation', issues: [{ path: 'subject', rule: 'distinct_subject' }] } });
    expect(generated).toBe(0);
  });

  it.runIf(hasOpenssl())('is refused by ca install for an intermediate its root signed under it, the CA left awaiting', async () => {
    const data = join(folder(), 'data');
    expect((await run(['ca', 'init', '--data', data])).code).toBe(0);
    expect((await run(['ca', 'init', '--data', data, '--id', 'sub-1', '--subject', 'CN=Issuing CA sub-1', '--intermediate', '--csr-out', files.file('int.csr.pem')])).code).toBe(0);
    await files.genkey('root.key', 'p256');
    files.write('root.cnf', '[req]\ndistinguished_name=dn\nx509_extensions=v3_root\nprompt=no\n[dn]\nCN=External Root\n[v3_root]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n');
    files.write('int.ext', '[v3_int]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
    await files.ok(['req', '-x509', '-new', '-key', 'root.key', '-config', 'root.cnf', '-days', '3650', '-sha256', '-out', 'root.pem']);
    const sign = (out: string, subject?: string) =>
      files.ok(['x509', '-req', '-in', 'int.csr.pem', '-CA', 'root.pem', '-CAkey', 'root.key', '-CAcreateserial', '-days', '365', '-sha256',
        '-extfile', 'int.ext', '-extensions', 'v3_int', ...(subject === undefined ? [] : ['-subj', subject]), '-out', out]);
    const install = (certificate: string) => run(['ca', 'install', '--data', data, '--id', 'sub-1', '--certificate', files.file(certificate), '--chain', files.file('root.pem')]);

    await sign('taken.pem', '/CN=Credence CA default');
    const refused = await install('taken.pem');
    expect(refused.code, refused.err).toBe(1);
    expect(refused.err).toContain("certificate: is CA default's subject");
    expect(refused.err).toContain("have it signed with its CSR's subject");
    const shown = await run(['ca', 'show', '--data', data, '--id', 'sub-1', '--json']);
    expect((JSON.parse(shown.out) as { cas: { state: string }[] }).cas[0]!.state).toBe('awaiting_certificate');

    await sign('int.pem');
    const installed = await install('int.pem');
    expect(installed.code, installed.err).toBe(0);
  });
});
