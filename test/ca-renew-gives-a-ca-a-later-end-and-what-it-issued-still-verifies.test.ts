import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as pkijs from 'pkijs';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { caFilePath, createRootCa, loadIssuingCas, renewRootCa } from '../adapters/driven/pki/index.ts';
import { openDataFolderSecureEnvironment, systemRandom } from '../adapters/runtime/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import { issueNodeCertificate } from '../domain/x509/issuance/index.ts';
import { runCli as run } from './support/cli.ts';
import { hasOpenssl, OpenSslDir, pem } from './support/openssl.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import { seededRandom } from './crypto-fixtures.ts';
import { ocspRequest, ocspStatus } from './support/ocsp-client.ts';
import { pkiOf, testLeaf } from './support/pki-test-ca.ts';
import { startTestService } from './support/service.ts';

/*
 * A CA's end was fixed when it was made: `ca install` took only a CA awaiting its first certificate and `ca init`
 * refused an id in use, so a CA nearing its end could only be replaced by a new one, and every certificate it had
 * issued with it. `credence ca renew` gives an active CA a later end with the same key, subject and key identifier: a
 * root in place, an intermediate through a CSR its root signs and `ca install`. What the CA issued before verifies
 * under the renewed certificate, and a refused renewal leaves the CA file as it was.
 */
const folder = temporaryFolders('credence-ca-renew-');
const DAY = 86_400_000;

interface ShownCa {
  readonly subject: string;
  readonly serialNumber: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly fingerprint: string;
  readonly chain: readonly string[];
  readonly certificate: string;
}
const shown = async (data: string, id = 'default'): Promise<ShownCa> => {
  const r = await run(['ca', 'show', '--data', data, '--id', id, '--json']);
  expect(r.code, r.err).toBe(0);
  return (JSON.parse(r.out) as { cas: ShownCa[] }).cas[0]!;
};
const pemOfShown = (ca: ShownCa): string => pem('CERTIFICATE', Buffer.from(ca.certificate, 'base64url'));

/** A node certificate the folder's CA `id` issues now, valid for a day, as PEM. */
const issueNode = async (data: string, id: string, nodeId: string): Promise<string> => {
  const se = openDataFolderSecureEnvironment(data, { now: () => new Date() });
  try {
    const infrastructure = ownerView(se, 'maf:infrastructure');
    const ca = (await loadIssuingCas(data, infrastructure)).find((c) => c.id === id)!;
    const key = await infrastructure.generate('p256', { usage: 'sign' });
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    const issued = await issueNodeCertificate({
      ca, baseUrl: 'https://credence.example', naming: { nodeId },
      key: { kind: 'p256', bytes: (await infrastructure.describe(key)).publicKey! },
      validity: { notBefore: now, notAfter: new Date(now.getTime() + DAY) }, serialRandom: seededRandom(`renew-${nodeId}`)(16),
    });
    if (!issued.ok) throw new Error(`not issued: ${JSON.stringify(issued)}`);
    return pem('CERTIFICATE', issued.der);
  } finally {
    se.close();
  }
};

describe('credence ca renew', () => {
  const files = new OpenSslDir();
  afterAll(() => files.remove());

  it('renews a root in place: same key and subject, a new serial and a later end; refusals leave its file as it was', async () => {
    const data = join(folder(), 'data');
    expect((await run(['ca', 'init', '--data', data, '--subject', 'CN=Fleet Root,O=Acme', '--validity-days', '30'])).code).toBe(0);
    const before = await shown(data);
    const file = (): string => readFileSync(caFilePath(data, 'default'), 'utf8');
    const keyHandle = (JSON.parse(file()) as { keyHandle: string }).keyHandle;
    const issuedBefore = hasOpenssl() ? await issueNode(data, 'default', 'meter-1') : '';

    // Refused, each naming the rule, each leaving the file unchanged
    const unchanged = file();
    const shorter = await run(['ca', 'renew', '--data', data, '--validity-days', '10']);
    expect(shorter.code).toBe(1);
    expect(shorter.err).toMatch(/validityDays: ends \S+, not after CA default's certificate, which ends /);
    const notRoot = await run(['ca', 'renew', '--data', data, '--csr-out', join(folder(), 'x.csr')]);
    expect(notRoot.code).toBe(1);
    expect(notRoot.err).toContain('CA default is a self-signed root: renew it without --csr-out');
    const unknown = await run(['ca', 'renew', '--data', data, '--id', 'sub-9']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('no CA sub-9');
    const usage = await run(['ca', 'renew', '--data', data, '--validity-days', '10', '--csr-out', join(folder(), 'y.csr')]);
    expect(usage.code).toBe(2);
    expect((await run(['ca', 'renew', '--data', data, '--validity-days', '0'])).code).toBe(2);
    expect(file()).toBe(unchanged);

    // Renewed
    const renewedAt = Math.floor(Date.now() / 1000) * 1000;
    const renewed = await run(['ca', 'renew', '--data', data, '--validity-days', '730']);
    expect(renewed.code, renewed.err).toBe(0);
    expect(renewed.out).toMatch(/^CA default: renewed, same key and subject, serial [0-9a-f]+, valid /);
    const after = await shown(data);
    expect(after.subject).toBe(before.subject);
    expect(after.chain).toEqual([]);
    expect(after.serialNumber).not.toBe(before.serialNumber);
    expect(after.fingerprint).not.toBe(before.fingerprint);
    // Review 231: it keeps the root's start, so what it issued before lies within it; 730 days from the renewal
    expect(after.notBefore).toBe(before.notBefore);
    expect(Date.parse(after.notAfter) - renewedAt).toBeGreaterThanOrEqual(730 * DAY);
    expect(Date.parse(after.notAfter) - renewedAt).toBeLessThanOrEqual(730 * DAY + 60_000);
    expect(Date.parse(after.notAfter)).toBeGreaterThan(Date.parse(before.notAfter));
    expect((JSON.parse(file()) as { keyHandle: string }).keyHandle).toBe(keyHandle);

    if (!hasOpenssl()) return;
    // What it issued before verifies under the renewed root, and what it issues now under the root relying parties had
    files.write('old-root.pem', pemOfShown(before));
    files.write('new-root.pem', pemOfShown(after));
    files.write('before.pem', issuedBefore);
    files.write('after.pem', await issueNode(data, 'default', 'meter-2'));
    expect((await files.run(['verify', '-CAfile', 'new-root.pem', 'before.pem'])).stdout.trim()).toBe('before.pem: OK');
    expect((await files.run(['verify', '-CAfile', 'old-root.pem', 'after.pem'])).stdout.trim()).toBe('after.pem: OK');
    const text = await files.ok(['x509', '-in', 'new-root.pem', '-noout', '-text']);
    expect(text).toMatch(/CA:TRUE/);

    // Review 114: a root is renewed in place, never given a certificate another root signed for its key and subject
    await files.genkey('other-root.key', 'p256');
    await files.ok(['req', '-x509', '-new', '-key', 'other-root.key', '-subj', '/CN=Other Root', '-days', '3650', '-sha256', '-out', 'other-root.pem']);
    await files.ok(['x509', '-in', 'new-root.pem', '-CA', 'other-root.pem', '-CAkey', 'other-root.key', '-set_serial', '7', '-days', '3000', '-out', 'cross.pem']);
    const beforeCross = file();
    const cross = await run(['ca', 'install', '--data', data, '--certificate', files.file('cross.pem'), '--chain', files.file('other-root.pem')]);
    expect(cross.code).toBe(1);
    expect(cross.err).toContain('CA default is a self-signed root: credence ca renew --id default renews it in place');
    expect(file()).toBe(beforeCross);
  });

  it.runIf(hasOpenssl())('renews an intermediate through a CSR its root signs, installed only with the same subject and a later end', async () => {
    const data = join(folder(), 'data');
    const csr = files.file('int.csr.pem');
    expect((await run(['ca', 'init', '--data', data, '--id', 'sub-1', '--subject', 'CN=Issuing CA sub-1', '--intermediate', '--csr-out', csr])).code).toBe(0);
    // Awaiting its first certificate: nothing to renew yet
    const waiting = await run(['ca', 'renew', '--data', data, '--id', 'sub-1', '--csr-out', files.file('early.csr.pem')]);
    expect(waiting.code).toBe(1);
    expect(waiting.err).toContain('CA sub-1 is awaiting its first certificate');

    await files.genkey('root.key', 'p256');
    files.write('root.cnf', '[req]\ndistinguished_name=dn\nx509_extensions=v3_root\nprompt=no\n[dn]\nCN=External Root\n[v3_root]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n');
    files.write('int.ext', '[v3_int]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
    await files.ok(['req', '-x509', '-new', '-key', 'root.key', '-config', 'root.cnf', '-days', '3650', '-sha256', '-out', 'root.pem']);
    const sign = (request: string, out: string, days: number, subject?: string) =>
      files.ok(['x509', '-req', '-in', request, '-CA', 'root.pem', '-CAkey', 'root.key', '-CAcreateserial', '-days', String(days), '-sha256',
        '-extfile', 'int.ext', '-extensions', 'v3_int', ...(subject === undefined ? [] : ['-subj', subject]), '-out', out]);
    await sign('int.csr.pem', 'int.pem', 365);
    expect((await run(['ca', 'install', '--data', data, '--id', 'sub-1', '--certificate', files.file('int.pem'), '--chain', files.file('root.pem')])).code).toBe(0);
    files.write('node-before.pem', await issueNode(data, 'sub-1', 'meter-7'));
    const before = await shown(data, 'sub-1');

    // Its renewal's CSR: same key and subject; the CA file is not touched
    const file = (): string => readFileSync(caFilePath(data, 'sub-1'), 'utf8');
    const unchanged = file();
    const request = await run(['ca', 'renew', '--data', data, '--id', 'sub-1', '--csr-out', files.file('renew.csr.pem')]);
    expect(request.code, request.err).toBe(0);
    expect(request.err).toContain('credence ca install --id sub-1');
    expect(file()).toBe(unchanged);
    expect(await files.ok(['req', '-in', 'renew.csr.pem', '-noout', '-verify'])).toBe('');
    expect(await files.ok(['req', '-in', 'renew.csr.pem', '-noout', '-subject'])).toContain('CN = Issuing CA sub-1');
    const rootRenewal = await run(['ca', 'renew', '--data', data, '--id', 'sub-1']);
    expect(rootRenewal.code).toBe(1);
    expect(rootRenewal.err).toContain('CA sub-1 is an intermediate: its root signs its renewal');

    // Refused: the same certificate again (no later end), another subject; each leaves the file as it was
    const install = (certificate: string) => run(['ca', 'install', '--data', data, '--id', 'sub-1', '--certificate', files.file(certificate), '--chain', files.file('root.pem')]);
    const again = await install('int.pem');
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/not after CA sub-1's certificate, which ends/);
    await sign('renew.csr.pem', 'renamed.pem', 1000, '/CN=Another CA');
    const renamed = await install('renamed.pem');
    expect(renamed.code).toBe(1);
    expect(renamed.err).toContain("names another subject than CA sub-1's certificate");
    expect(file()).toBe(unchanged);

    // Review 114, 117: nor one another root signed (of the same name here), though of the same key and subject: relying parties of the first root
    // would no longer reach it
    await files.genkey('root-b.key', 'p256');
    await files.ok(['req', '-x509', '-new', '-key', 'root-b.key', '-config', 'root.cnf', '-days', '3650', '-sha256', '-out', 'root-b.pem']);
    await files.ok(['x509', '-req', '-in', 'renew.csr.pem', '-CA', 'root-b.pem', '-CAkey', 'root-b.key', '-CAcreateserial', '-days', '1000', '-sha256',
      '-extfile', 'int.ext', '-extensions', 'v3_int', '-out', 'other-issuer.pem']);
    const otherIssuer = await run(['ca', 'install', '--data', data, '--id', 'sub-1', '--certificate', files.file('other-issuer.pem'), '--chain', files.file('root-b.pem')]);
    expect(otherIssuer.code).toBe(1);
    expect(otherIssuer.err).toContain("is not signed by the CA that signed CA sub-1's certificate (CN=External Root)");
    expect(file()).toBe(unchanged);

    // Installed: a later end, the same subject; what it issued before verifies through the renewed certificate
    await sign('renew.csr.pem', 'int-renewed.pem', 1000);
    const installed = await install('int-renewed.pem');
    expect(installed.code, installed.err).toBe(0);
    const after = await shown(data, 'sub-1');
    expect(after.subject).toBe(before.subject);
    expect(Date.parse(after.notAfter)).toBeGreaterThan(Date.parse(before.notAfter));
    expect(after.chain).toHaveLength(1);
    const verified = await files.run(['verify', '-CAfile', 'root.pem', '-untrusted', 'int-renewed.pem', 'node-before.pem']);
    expect(verified.stdout.trim(), verified.stderr).toBe('node-before.pem: OK');
  });

  it('serves again, at the next start, a root that had ended once renewed: its CRL and a signed OCSP answer, its renewed certificate', async () => {
    const dir = folder();
    const clock = new FakeClock(new Date(Math.floor(Date.now() / 1000) * 1000));
    const infrastructure = (se: ReturnType<typeof openDataFolderSecureEnvironment>) => ownerView(se, 'maf:infrastructure');
    const se = openDataFolderSecureEnvironment(dir, { now: () => clock.now() });
    try {
      await createRootCa({ dataDir: dir, se: infrastructure(se), id: 'default', kind: 'p256', now: new Date(clock.now().getTime() - 3 * DAY), random: systemRandom, validityDays: 2 });
    } finally {
      se.close();
    }
    let svc = await startTestService({ dir, clock });
    try {
      expect((await fetch(`${svc.url}/pki/default/crl`)).status).toBe(410);
    } finally {
      await svc.close();
    }

    const renewing = openDataFolderSecureEnvironment(dir, { now: () => clock.now() });
    try {
      await renewRootCa({ dataDir: dir, se: infrastructure(renewing), id: 'default', validityDays: 30, now: clock.now(), random: systemRandom });
    } finally {
      renewing.close();
    }
    svc = await startTestService({ dir, clock });
    try {
      const ca = pkiOf(svc).cas.find((c) => c.id === 'default')!;
      const served = new Uint8Array(await (await fetch(`${svc.url}/pki/default/ca.crt`)).arrayBuffer());
      expect(Buffer.from(served).equals(Buffer.from(ca.certificate))).toBe(true);
      expect(pkijs.Certificate.fromBER(Uint8Array.from(served)).notAfter.value.getTime()).toBe(clock.now().getTime() + 30 * DAY);
      expect((await fetch(`${svc.url}/pki/default/crl`)).status).toBe(200);
      const request = await ocspRequest(await testLeaf(ca, { baseUrl: svc.url, name: 'stranger', now: clock.now().getTime() }), ca);
      const reply = await fetch(`${svc.url}/pki/default/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: Buffer.from(request) });
      const der = new Uint8Array(await reply.arrayBuffer());
      expect(pkijs.OCSPResponse.fromBER(der).responseStatus.valueBlock.valueDec).toBe(0);
      expect(ocspStatus(der)).toBe('unknown');
    } finally {
      await svc.close();
    }
  }, 60_000);
});
