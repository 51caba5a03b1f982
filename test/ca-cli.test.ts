import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadIssuingCas, caFilePath } from '../adapters/driven/pki/index.ts';
import { openDataFolderSecureEnvironment } from '../adapters/runtime/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import { issueNodeCertificate } from '../domain/x509/issuance/index.ts';
import { runCli } from './support/cli.ts';
import { hasOpenssl, OpenSslDir, pem } from './support/openssl.ts';
import { seededRandom } from './crypto-fixtures.ts';

/**
 * Issue 13: `credence ca init|install|show` on a data folder. A root made in the Secure Environment; an intermediate
 * whose CSR an external root (made by OpenSSL) signs, installed after its checks; refusals with the CLI's exit codes
 * (1 refused, 2 bad usage) that leave the CA as it was.
 */
const run = runCli;

const ROOT_CNF = `[req]
distinguished_name=dn
x509_extensions=v3_root
prompt=no
[dn]
CN=External Root
O=Example Grid
[v3_root]
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
`;
const INTERMEDIATE_EXT = `[v3_int]
basicConstraints=critical,CA:TRUE,pathlen:0
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
[v3_leaf]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
`;

describe('credence ca', () => {
  let dir: string;
  const files = new OpenSslDir();
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'credence-ca-cli-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    files.remove();
  });

  it('init makes a self-signed root in the Secure Environment; show prints it; a second init is refused and changes nothing', async () => {
    const data = join(dir, 'root');
    const made = await run(['ca', 'init', '--data', data, '--key-type', 'ed25519', '--subject', 'CN=Fleet Root,O=Acme Utilities', '--validity-days', '730']);
    expect(made.code, made.err).toBe(0);
    expect(made.out).toContain('CA default: self-signed root, ed25519, CN=Fleet Root, O=Acme Utilities');
    const file = readFileSync(caFilePath(data, 'default'), 'utf8');
    expect(file).not.toMatch(/PRIVATE|secret/i);

    const shown = await run(['ca', 'show', '--data', data, '--json']);
    expect(shown.code).toBe(0);
    const { cas } = JSON.parse(shown.out) as { cas: { id: string; state: string; keyKind: string; subject: string; notBefore: string; notAfter: string; chain: unknown[] }[] };
    expect(cas).toHaveLength(1);
    expect(cas[0]).toMatchObject({ id: 'default', state: 'active', keyKind: 'ed25519', subject: 'CN=Fleet Root, O=Acme Utilities', chain: [] });
    expect(Date.parse(cas[0]!.notAfter) - Date.parse(cas[0]!.notBefore)).toBe(730 * 86_400_000);

    const again = await run(['ca', 'init', '--data', data]);
    expect(again.code).toBe(1);
    expect(again.err).toContain('CA default already exists');
    expect(readFileSync(caFilePath(data, 'default'), 'utf8')).toBe(file);

    if (hasOpenssl()) {
      const printed = await run(['ca', 'show', '--data', data, '--pem']);
      files.write('fleet-root.pem', `${printed.out}\n`);
      const text = await files.ok(['x509', '-in', 'fleet-root.pem', '-noout', '-text']);
      expect(text).toMatch(/CA:TRUE/);
      expect(text).toContain('Signature Algorithm: ED25519');
    }
  });

  it('bad usage is refused before anything is made (exit 2), a bad subject as refused (exit 1)', async () => {
    const data = join(dir, 'usage');
    expect((await run(['ca', 'init', '--data', data, '--key-type', 'rsa'])).code).toBe(2);
    expect((await run(['ca', 'init', '--data', data, '--id', 'Not_An_Id'])).code).toBe(2);
    expect((await run(['ca', 'init', '--data', data, '--intermediate'])).code).toBe(2);
    expect((await run(['ca', 'init', '--data', data, '--validity-days', '0'])).code).toBe(2);
    const badSubject = await run(['ca', 'init', '--data', data, '--subject', 'no equals sign here']);
    expect(badSubject.code).toBe(1);
    expect(badSubject.err).toContain('subject');
    // Refused before the data folder is made: nothing is left behind.
    expect(existsSync(data)).toBe(false);
    expect((await run(['ca', 'install', '--data', data, '--certificate', join(dir, 'missing.pem'), '--chain', join(dir, 'missing.pem')])).code).toBe(2);
  });

  it('an intermediate whose CSR cannot be written leaves no CA and no key, and the same init then succeeds', async () => {
    // Found in review: the CA file and its Secure Environment key were made before the CSR write failed (exit 2),
    // and the next init with a writable --csr-out was refused as "CA already exists".
    const data = join(dir, 'unwritable-csr');
    const refused = await run(['ca', 'init', '--data', data, '--id', 'sub-x', '--intermediate', '--csr-out', join(dir, 'no-such-folder', 'x.csr')]);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('--csr-out: cannot write');
    // Refused before the data folder is made: no CA, no key, no folder.
    expect(existsSync(data)).toBe(false);
    const csrFile = join(dir, 'sub-x.csr');
    expect((await run(['ca', 'init', '--data', data, '--id', 'sub-x', '--intermediate', '--csr-out', csrFile])).code).toBe(0);
    expect(readFileSync(csrFile, 'utf8')).toContain('BEGIN CERTIFICATE REQUEST');
  });

  it.runIf(hasOpenssl())('an intermediate: CSR out, signed by an OpenSSL root, installed, and its certificates verify with -untrusted', async () => {
    const data = join(dir, 'intermediate');
    const csrFile = files.file('int.csr.pem');
    const init = await run(['ca', 'init', '--data', data, '--id', 'sub-1', '--key-type', 'ed25519', '--subject', 'CN=Credence Issuing CA sub-1', '--intermediate', '--csr-out', csrFile]);
    expect(init.code, init.err).toBe(0);
    expect((await run(['ca', 'show', '--data', data, '--id', 'sub-1'])).out).toContain('awaiting_certificate');
    expect(await files.ok(['req', '-in', 'int.csr.pem', '-noout', '-verify'])).toBe('');

    await files.genkey('ext-root.key', 'p256');
    files.write('root.cnf', ROOT_CNF);
    files.write('int.ext', INTERMEDIATE_EXT);
    await files.ok(['req', '-x509', '-new', '-key', 'ext-root.key', '-config', 'root.cnf', '-days', '3650', '-sha256', '-out', 'ext-root.pem']);
    const sign = (csr: string, out: string, extensions: string) =>
      files.ok(['x509', '-req', '-in', csr, '-CA', 'ext-root.pem', '-CAkey', 'ext-root.key', '-CAcreateserial', '-days', '1825', '-sha256', '-extfile', 'int.ext', '-extensions', extensions, '-out', out]);
    await sign('int.csr.pem', 'int.pem', 'v3_int');

    // Refusals first: each leaves the CA waiting for its certificate.
    await files.genkey('stranger.key', 'ed25519');
    files.write('stranger.csr.pem', Buffer.from(pem('CERTIFICATE REQUEST', await files.csr('stranger.key', '/CN=Stranger'))));
    await sign('stranger.csr.pem', 'stranger.pem', 'v3_int');
    const wrongKey = await run(['ca', 'install', '--data', data, '--id', 'sub-1', '--certificate', files.file('stranger.pem'), '--chain', files.file('ext-root.pem')]);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.err).toContain('does not certify the key of CA sub-1');
    await sign('int.csr.pem', 'int-leaf.pem', 'v3_leaf');
    const notCa = await run(['ca', 'install', '--data', data, '--id', 'sub-1', '--certificate', files.file('int-leaf.pem'), '--chain', files.file('ext-root.pem')]);
    expect(notCa.code).toBe(1);
    expect(notCa.err).toContain('not a CA certificate');
    const noRoot = await run(['ca', 'install', '--data', data, '--id', 'sub-1', '--certificate', files.file('int.pem'), '--chain', files.file('stranger.pem')]);
    expect(noRoot.code).toBe(1);
    files.write('garbage.pem', '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n');
    expect((await run(['ca', 'install', '--data', data, '--id', 'sub-1', '--certificate', files.file('garbage.pem'), '--chain', files.file('ext-root.pem')])).code).toBe(2);
    expect((await run(['ca', 'show', '--data', data, '--id', 'sub-1'])).out).toContain('awaiting_certificate');

    const installed = await run(['ca', 'install', '--data', data, '--id', 'sub-1', '--certificate', files.file('int.pem'), '--chain', files.file('ext-root.pem')]);
    expect(installed.code, installed.err).toBe(0);
    expect(installed.out).toContain('issued by CN=External Root, O=Example Grid');
    expect((await run(['ca', 'install', '--data', data, '--id', 'sub-1', '--certificate', files.file('int.pem'), '--chain', files.file('ext-root.pem')])).code).toBe(1);

    // The service's view: the CA loads with its chain, and what it issues verifies through the intermediate.
    const se = openDataFolderSecureEnvironment(data, { now: () => new Date() });
    try {
      const [ca] = await loadIssuingCas(data, ownerView(se, 'maf:infrastructure'));
      expect(ca?.id).toBe('sub-1');
      expect(ca?.chain).toHaveLength(1);
      const now = new Date(Math.floor(Date.now() / 1000) * 1000);
      const node = await ownerView(se, 'maf:infrastructure').generate('p256', { usage: 'sign' });
      const issued = await issueNodeCertificate({
        ca: ca!, baseUrl: 'https://credence.example', naming: { nodeId: 'meter-42' },
        key: { kind: 'p256', bytes: (await ownerView(se, 'maf:infrastructure').describe(node)).publicKey! },
        validity: { notBefore: now, notAfter: new Date(now.getTime() + 86_400_000) }, serialRandom: seededRandom('int-serial')(16),
      });
      expect(issued.ok).toBe(true);
      files.write('node.pem', pem('CERTIFICATE', issued.ok ? issued.der : new Uint8Array()));
      const verified = await files.run(['verify', '-CAfile', 'ext-root.pem', '-untrusted', 'int.pem', 'node.pem']);
      expect(verified.stdout.trim(), verified.stderr).toBe('node.pem: OK');
    } finally {
      se.close();
    }
  });
});
