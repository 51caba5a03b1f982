import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { hasOpenssl, OpenSslDir } from './support/openssl.ts';

/*
 * Found in review 231 (4): an intermediate OpenSSL signed with `subjectKeyIdentifier=none` was refused by `ca install`
 * with "refused (bad_signature): certificate chain rejected: missing_key_identifier (CN=credence-ca-install-probe)":
 * the throw-away probe certificate's name, and a signature problem. The certificates a CA issues name its key by its
 * subjectKeyIdentifier (authorityKeyIdentifier, RFC 5280 4.2.1.1, 4.2.1.2), and path validation refuses them without
 * it. Now it is a `validation` error on the certificate that lacks it (rule `subject_key_identifier`), naming its
 * subject; nothing is written. An intermediate above it (in --chain) is held to the same, and each to have an
 * authorityKeyIdentifier (rule `authority_key_identifier`).
 */
const dir = mkdtempSync(join(tmpdir(), 'credence-ca-ski-'));
const files = new OpenSslDir();
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  files.remove();
});

const rootCnf = `[req]
distinguished_name=dn
x509_extensions=v3_root
prompt=no
[dn]
CN=SKI Root
[v3_root]
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
`;
const caExt = (ski: 'hash' | 'none', pathlen: number, aki = 'keyid') => `[v3_ca]
basicConstraints=critical,CA:TRUE,pathlen:${pathlen}
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=${ski}
authorityKeyIdentifier=${aki}
`;

describe.runIf(hasOpenssl())('ca install and subjectKeyIdentifier', () => {
  it('refuses a CA certificate, or an intermediate above it, without one as a validation error naming its subject; nothing written', async () => {
    const data = join(dir, 'data');
    const init = await runCli(['ca', 'init', '--data', data, '--id', 'sub-1', '--intermediate', '--csr-out', files.file('int.csr.pem')]);
    expect(init.code, init.err).toBe(0);
    await files.genkey('root.key', 'p256');
    await files.genkey('mid.key', 'p256');
    files.write('root.cnf', rootCnf);
    await files.ok(['req', '-x509', '-new', '-key', 'root.key', '-config', 'root.cnf', '-days', '3650', '-sha256', '-out', 'root.pem']);
    const sign = async (csr: string, out: string, by: string, byKey: string, ski: 'hash' | 'none', pathlen: number, aki?: string) => {
      files.write(`${out}.ext`, caExt(ski, pathlen, aki));
      await files.ok(['x509', '-req', '-in', csr, '-CA', by, '-CAkey', byKey, '-CAcreateserial', '-days', '1825', '-sha256', '-extfile', `${out}.ext`, '-extensions', 'v3_ca', '-out', out]);
    };
    const install = (certificate: string, chain: string) =>
      runCli(['ca', 'install', '--data', data, '--id', 'sub-1', '--certificate', files.file(certificate), '--chain', files.file(chain)]);
    const awaiting = async () => expect((await runCli(['ca', 'show', '--data', data, '--id', 'sub-1'])).out).toContain('awaiting_certificate');

    // The CA certificate itself.
    await sign('int.csr.pem', 'int-no-ski.pem', 'root.pem', 'root.key', 'none', 0);
    const refused = await install('int-no-ski.pem', 'root.pem');
    expect(refused.code, refused.out).toBe(1);
    expect(refused.err).toContain('certificate: CN=Credence CA sub-1 has no subjectKeyIdentifier');
    expect(refused.err).not.toContain('probe');
    expect(refused.err).not.toContain('bad_signature');
    await awaiting();

    // An intermediate between it and the root without one: named by its place in --chain.
    await files.ok(['req', '-new', '-key', 'mid.key', '-subj', '/CN=SKI Mid', '-out', 'mid.csr.pem']);
    await sign('mid.csr.pem', 'mid.pem', 'root.pem', 'root.key', 'none', 1);
    await sign('int.csr.pem', 'int-under-mid.pem', 'mid.pem', 'mid.key', 'hash', 0, 'none'); // OpenSSL has no key id of mid's to put
    files.write('mid-chain.pem', `${files.read('root.pem').toString()}${files.read('mid.pem').toString()}`);
    const above = await install('int-under-mid.pem', 'mid-chain.pem');
    expect(above.code, above.out).toBe(1);
    expect(above.err).toContain('chain[1]: CN=SKI Mid has no subjectKeyIdentifier');
    expect(above.err).not.toContain('bad_signature');
    await awaiting();

    // One naming no issuer's key (authorityKeyIdentifier=none): refused alike.
    await sign('int.csr.pem', 'int-no-aki.pem', 'root.pem', 'root.key', 'hash', 0, 'none');
    const noAki = await install('int-no-aki.pem', 'root.pem');
    expect(noAki.code, noAki.out).toBe(1);
    expect(noAki.err).toContain('certificate: CN=Credence CA sub-1 has no authorityKeyIdentifier key id');
    await awaiting();

    // With both: installed.
    await sign('int.csr.pem', 'int-ski.pem', 'root.pem', 'root.key', 'hash', 0);
    const installed = await install('int-ski.pem', 'root.pem');
    expect(installed.code, installed.err).toBe(0);
  }, 60_000);
});
