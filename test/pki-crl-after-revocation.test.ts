import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as pkijs from 'pkijs';
import { hasOpenssl, OpenSslDir, pem } from './support/openssl.ts';
import { issueCertifiedCredential, revokeAndSettle, startPkiService } from './support/pki-test-ca.ts';
import type { TestService } from './support/service.ts';

const CRL_NUMBER = '2.5.29.20';
const DELTA_CRL_INDICATOR = '2.5.29.27';

/** The CRL's number and its revoked serials (hex, lowercase) as pkijs reads them. */
const readCrl = (der: Uint8Array) => {
  const crl = pkijs.CertificateRevocationList.fromBER(der);
  const extension = (oid: string) => crl.crlExtensions?.extensions.find((e) => e.extnID === oid);
  const integer = (oid: string) => {
    const e = extension(oid);
    return e === undefined ? undefined : Number((e.parsedValue as { toBigInt(): bigint }).toBigInt());
  };
  return {
    crlNumber: integer(CRL_NUMBER),
    baseCrlNumber: integer(DELTA_CRL_INDICATOR),
    serials: (crl.revokedCertificates ?? []).map((r) => Buffer.from(r.userCertificate.valueBlock.valueHexView).toString('hex')),
  };
};

describe.skipIf(!hasOpenssl())('the CRL served at the distribution point after revokeCredential (issue 13)', () => {
  let svc: TestService;
  const files = new OpenSslDir('credence-crl-');
  const fetchDer = async (path: string, headers: Record<string, string> = {}) => {
    const response = await fetch(`${svc.url}${path}`, { headers });
    return { response, der: new Uint8Array(await response.arrayBuffer()) };
  };

  beforeAll(async () => {
    svc = await startPkiService('p256');
    files.write('ca.pem', pem('CERTIFICATE', (await fetchDer('/pki/default/ca.crt')).der));
  }, 60_000);
  afterAll(async () => {
    await svc?.close();
    files.remove();
  });

  it('is accepted by openssl verify -crl_check before the revocation and refuses the certificate after it', async () => {
    const leaf = await issueCertifiedCredential(svc, 'cred-crl-1');
    files.write('device.pem', leaf.pem);
    files.write('before.crl.pem', pem('X509 CRL', (await fetchDer('/pki/default/crl')).der));
    const before = await files.run(['verify', '-crl_check', '-CAfile', 'ca.pem', '-CRLfile', 'before.crl.pem', 'device.pem']);
    expect(before.stdout + before.stderr).toContain('device.pem: OK');

    await revokeAndSettle(svc, 'cred-crl-1', 'keyCompromise');
    const { der } = await fetchDer('/pki/default/crl');
    files.write('after.crl.pem', pem('X509 CRL', der));
    const after = await files.run(['verify', '-crl_check', '-CAfile', 'ca.pem', '-CRLfile', 'after.crl.pem', 'device.pem']);
    expect(after.status).not.toBe(0);
    expect(after.stdout + after.stderr).toContain('certificate revoked');

    // The CRL itself: signed by the CA, the entry with its reason, the pointer to the delta CRL.
    const text = await files.ok(['crl', '-in', 'after.crl.pem', '-CAfile', 'ca.pem', '-noout', '-text']);
    expect(text).toContain(`Serial Number: ${leaf.serialNumber.toUpperCase()}`);
    expect(text).toContain('Key Compromise');
    expect(text).toContain(`URI:${svc.url}/pki/default/delta-crl`);
    expect(text).toContain('X509v3 Authority Key Identifier');
    expect(readCrl(der).serials).toContain(leaf.serialNumber);
  });

  it('lists the revocation on a delta CRL whose deltaCRLIndicator names an earlier complete CRL', async () => {
    const leaf = await issueCertifiedCredential(svc, 'cred-crl-2');
    const full = readCrl((await fetchDer('/pki/default/crl')).der);
    await revokeAndSettle(svc, 'cred-crl-2', 'superseded');
    const { response, der } = await fetchDer('/pki/default/delta-crl');
    expect(response.headers.get('content-type')).toBe('application/pkix-crl');
    const delta = readCrl(der);
    expect(delta.serials).toContain(leaf.serialNumber);
    expect(delta.baseCrlNumber).toBeDefined();
    expect(delta.baseCrlNumber!).toBeLessThanOrEqual(full.crlNumber!);
    expect(delta.crlNumber!).toBeGreaterThan(full.crlNumber!);
    files.write('delta.crl.der', der);
    const text = await files.ok(['crl', '-inform', 'DER', '-in', 'delta.crl.der', '-CAfile', 'ca.pem', '-noout', '-text']);
    expect(text).toContain('Delta CRL Indicator: critical');
    expect(text).toContain('Superseded');
  });

  it('serves DER as application/pkix-crl with an ETag, and 304 to If-None-Match', async () => {
    const first = await fetchDer('/pki/default/crl');
    expect(first.response.status).toBe(200);
    expect(first.response.headers.get('content-type')).toBe('application/pkix-crl');
    const etag = first.response.headers.get('etag');
    expect(etag).toMatch(/^".+"$/);
    expect(first.response.headers.get('cache-control')).toContain('no-cache');
    const again = await fetchDer('/pki/default/crl', { 'if-none-match': etag! });
    expect(again.response.status).toBe(304);
    // RFC 9110 13.1.2: a list, a weakened tag and `*` match too (found in review: only the exact tag alone did).
    for (const header of [`"other", ${etag!}`, `W/${etag!}`, '*']) {
      expect((await fetchDer('/pki/default/crl', { 'if-none-match': header })).response.status, header).toBe(304);
    }
    expect((await fetchDer('/pki/default/crl', { 'if-none-match': '"other", W/"another"' })).response.status).toBe(200);
  });

  it('answers an unknown CA with a 404 problem', async () => {
    const response = await fetch(`${svc.url}/pki/no-such-ca/crl`);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
  });

  it('never reuses a CRL number, across a restart too', async () => {
    const before = readCrl((await fetchDer('/pki/default/delta-crl')).der).crlNumber!;
    await svc.restart();
    const full = readCrl((await fetchDer('/pki/default/crl')).der);
    const delta = readCrl((await fetchDer('/pki/default/delta-crl')).der);
    expect(full.crlNumber!).toBeGreaterThan(before);
    // Signed together at the restart: one number (RFC 5280 5.2.3, review 312).
    expect(delta.crlNumber!).toBe(full.crlNumber!);
    // The revocations are still on it: rebuilt from the read model, itself from the events.
    expect(full.serials.length).toBe(2);
  }, 60_000);
});
