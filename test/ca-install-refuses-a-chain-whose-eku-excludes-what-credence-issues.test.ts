import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadIssuingCas } from '../adapters/driven/pki/index.ts';
import { openDataFolderSecureEnvironment } from '../adapters/runtime/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import { issueNodeCertificate } from '../domain/x509/issuance/index.ts';
import { runCli } from './support/cli.ts';
import { hasOpenssl, OpenSslDir, pem } from './support/openssl.ts';
import { seededRandom } from './crypto-fixtures.ts';

/*
 * Found in review (D5): an intermediate signed with `extendedKeyUsage=serverAuth,OCSPSigning` was installed and
 * issued node certificates that `openssl verify -purpose sslclient` refuses ("unsupported certificate purpose"), as
 * TLS servers and MQTT brokers do: relying parties read a CA's extendedKeyUsage as a bound on what is below it. Now
 * `ca install` refuses (rule `extended_key_usage`) a CA certificate, or one above it, whose extendedKeyUsage lacks
 * clientAuth (node certificates) or OCSPSigning (the delegated OCSP responder's certificate); anyExtendedKeyUsage does
 * not stand in for them (OpenSSL refuses it for sslclient). Without the extension, or with both, it installs.
 */
const run = runCli;

const rootCnf = (eku?: string) => `[req]
distinguished_name=dn
x509_extensions=v3_root
prompt=no
[dn]
CN=EKU Root ${eku ?? 'plain'}
[v3_root]
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
${eku === undefined ? '' : `extendedKeyUsage=${eku}\n`}`;
const intExt = (eku?: string) => `[v3_int]
basicConstraints=critical,CA:TRUE,pathlen:0
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
${eku === undefined ? '' : `extendedKeyUsage=${eku}\n`}`;

const dir = mkdtempSync(join(tmpdir(), 'credence-ca-eku-'));
const files = new OpenSslDir();
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  files.remove();
});

describe.runIf(hasOpenssl())('ca install and extendedKeyUsage', () => {
  it('refuses an intermediate, or a root above it, whose extendedKeyUsage excludes clientAuth or OCSPSigning; installs one naming both', async () => {
    const data = join(dir, 'data');
    const init = await run(['ca', 'init', '--data', data, '--id', 'sub-1', '--intermediate', '--csr-out', files.file('int.csr.pem')]);
    expect(init.code, init.err).toBe(0);
    await files.genkey('root.key', 'p256');
    const root = async (name: string, eku?: string) => {
      files.write(`${name}.cnf`, rootCnf(eku));
      await files.ok(['req', '-x509', '-new', '-key', 'root.key', '-config', `${name}.cnf`, '-days', '3650', '-sha256', '-out', `${name}.pem`]);
    };
    await root('root');
    await root('root-server-only', 'serverAuth');
    const sign = async (out: string, eku: string | undefined, by = 'root') => {
      files.write(`${out}.ext`, intExt(eku));
      await files.ok(['x509', '-req', '-in', 'int.csr.pem', '-CA', `${by}.pem`, '-CAkey', 'root.key', '-CAcreateserial', '-days', '1825', '-sha256', '-extfile', `${out}.ext`, '-extensions', 'v3_int', '-out', `${out}.pem`]);
    };
    const install = (certificate: string, chain = 'root') =>
      run(['ca', 'install', '--data', data, '--id', 'sub-1', '--certificate', files.file(`${certificate}.pem`), '--chain', files.file(`${chain}.pem`)]);

    const refusals: [string, string | undefined, string, string][] = [
      ['int-server', 'serverAuth,OCSPSigning', 'root', 'certificate: its extendedKeyUsage lacks clientAuth (for the node certificates):'],
      ['int-client', 'clientAuth', 'root', 'certificate: its extendedKeyUsage lacks OCSPSigning (for the OCSP responder certificate):'],
      ['int-any', 'anyExtendedKeyUsage', 'root', 'certificate: its extendedKeyUsage lacks clientAuth (for the node certificates) and OCSPSigning'],
      ['int-under-server-root', undefined, 'root-server-only', 'chain[0]: its extendedKeyUsage lacks clientAuth (for the node certificates) and OCSPSigning'],
    ];
    for (const [name, eku, by, message] of refusals) {
      await sign(name, eku, by);
      const refused = await install(name, by);
      expect(refused.code, `${name}: ${refused.out}`).toBe(1);
      expect(refused.err).toContain(message);
      expect((await run(['ca', 'show', '--data', data, '--id', 'sub-1'])).out).toContain('awaiting_certificate');
    }

    await sign('int-both', 'clientAuth,OCSPSigning');
    const installed = await install('int-both');
    expect(installed.code, installed.err).toBe(0);

    const se = openDataFolderSecureEnvironment(data, { now: () => new Date() });
    try {
      const infra = ownerView(se, 'maf:infrastructure');
      const [ca] = await loadIssuingCas(data, infra);
      const now = new Date(Math.floor(Date.now() / 1000) * 1000);
      const node = await infra.generate('p256', { usage: 'sign' });
      const issued = await issueNodeCertificate({
        ca: ca!, baseUrl: 'https://credence.example', naming: { nodeId: 'meter-9' },
        key: { kind: 'p256', bytes: (await infra.describe(node)).publicKey! },
        validity: { notBefore: now, notAfter: new Date(now.getTime() + 86_400_000) }, serialRandom: seededRandom('eku-serial')(16),
      });
      if (!issued.ok) throw new Error(issued.reason);
      files.write('node.pem', pem('CERTIFICATE', issued.der));
      const verified = await files.run(['verify', '-purpose', 'sslclient', '-CAfile', 'root.pem', '-untrusted', 'int-both.pem', 'node.pem']);
      expect(verified.stdout.trim(), verified.stderr).toBe('node.pem: OK');
    } finally {
      se.close();
    }
  });
});
