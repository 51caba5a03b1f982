import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasOpenssl, OpenSslDir, pem } from './support/openssl.ts';
import { issueCertifiedCredential, revokeAndSettle, startPkiService, testCa, testLeaf } from './support/pki-test-ca.ts';
import type { TestService } from './support/service.ts';

/** The OCSPResponseStatus of a DER OCSPResponse. */
const responseStatus = (der: Uint8Array): number => pkijs.OCSPResponse.fromBER(der).responseStatus.valueBlock.valueDec;

/** An OCSPRequest (made with pkijs, as another client would) about `serial` with a nonce of `nonceBytes` octets. */
const requestWithNonce = (template: Uint8Array, nonceBytes: number): Uint8Array => {
  const request = pkijs.OCSPRequest.fromBER(template);
  request.tbsRequest.requestExtensions = [
    new pkijs.Extension({ extnID: '1.3.6.1.5.5.7.48.1.2', extnValue: new asn1js.OctetString({ valueHex: new Uint8Array(nonceBytes).fill(7) }).toBER() }),
  ];
  return new Uint8Array(request.toSchema(true).toBER());
};

describe.skipIf(!hasOpenssl())('the OCSP responder with openssl ocsp (issue 13)', () => {
  let svc: TestService;
  const files = new OpenSslDir('credence-ocsp-');
  const url = () => `${svc.url}/pki/default/ocsp`;
  const post = async (body: Uint8Array, caId = 'default') => {
    const response = await fetch(`${svc.url}/pki/${caId}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body });
    return { response, der: new Uint8Array(await response.arrayBuffer()) };
  };

  beforeAll(async () => {
    svc = await startPkiService('p256');
    files.write('ca.pem', pem('CERTIFICATE', new Uint8Array(await (await fetch(`${svc.url}/pki/default/ca.crt`)).arrayBuffer())));
  }, 60_000);
  afterAll(async () => {
    await svc?.close();
    files.remove();
  });

  it('says good, then revoked with the time and reason, with the nonce echoed and the delegated signature verified', async () => {
    const leaf = await issueCertifiedCredential(svc, 'cred-ocsp-1');
    files.write('device.pem', leaf.pem);
    const ask = () => files.run(['ocsp', '-issuer', 'ca.pem', '-cert', 'device.pem', '-url', url(), '-CAfile', 'ca.pem', '-resp_text']);
    const good = await ask();
    expect(good.stderr).toContain('Response verify OK');
    expect(good.stdout).toContain('device.pem: good');
    // openssl sends a nonce by default and warns when the response lacks it.
    expect(good.stdout + good.stderr).not.toContain('WARNING: no nonce in response');
    expect(good.stdout).toContain('OCSP Nonce');
    expect(good.stdout).toContain('Responder Id:');
    expect(good.stdout).toContain('OCSP Signing');

    await revokeAndSettle(svc, 'cred-ocsp-1', 'keyCompromise');
    const revoked = await ask();
    expect(revoked.stderr).toContain('Response verify OK');
    expect(revoked.stdout).toContain('device.pem: revoked');
    expect(revoked.stdout).toContain('Reason: keyCompromise');
    expect(revoked.stdout).toMatch(/Revocation Time: \w{3} +\d+ \d\d:\d\d:\d\d \d{4} GMT/);
  });

  it('answers from its cache without a nonce, and the cached answer is dropped by the revocation', async () => {
    const leaf = await issueCertifiedCredential(svc, 'cred-ocsp-2');
    files.write('device2.pem', leaf.pem);
    const ask = () => files.run(['ocsp', '-issuer', 'ca.pem', '-cert', 'device2.pem', '-url', url(), '-CAfile', 'ca.pem', '-no_nonce']);
    expect((await ask()).stdout).toContain('device2.pem: good');
    expect((await ask()).stdout).toContain('device2.pem: good');
    await revokeAndSettle(svc, 'cred-ocsp-2', 'cessationOfOperation');
    const after = await ask();
    expect(after.stdout).toContain('device2.pem: revoked');
    expect(after.stdout).toContain('Reason: cessationOfOperation');
  });

  it('answers the GET form (RFC 6960 A.1) with caching headers', async () => {
    const leaf = await issueCertifiedCredential(svc, 'cred-ocsp-3');
    files.write('device3.pem', leaf.pem);
    await files.ok(['ocsp', '-issuer', 'ca.pem', '-cert', 'device3.pem', '-no_nonce', '-reqout', 'get.req']);
    const encoded = encodeURIComponent(files.read('get.req').toString('base64'));
    const response = await fetch(`${url()}/${encoded}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/ocsp-response');
    expect(response.headers.get('etag')).toMatch(/^".+"$/);
    expect(Date.parse(response.headers.get('expires')!)).toBeGreaterThan(Date.now());
    files.write('get.resp', new Uint8Array(await response.arrayBuffer()));
    const status = await files.run(['ocsp', '-respin', 'get.resp', '-issuer', 'ca.pem', '-cert', 'device3.pem', '-CAfile', 'ca.pem', '-no_nonce']);
    expect(status.stderr).toContain('Response verify OK');
    expect(status.stdout).toContain('device3.pem: good');
  });

  // RFC 6960 4.1.1 allows any hash algorithm in a CertID: SHA-384 and SHA-512 were answered unauthorized (6).
  it.each(['-sha1', '-sha256', '-sha384', '-sha512'])('answers a CertID hashed with openssl ocsp %s', async (digest) => {
    const leaf = await issueCertifiedCredential(svc, `cred-ocsp-hash${digest}`);
    files.write(`hash${digest}.pem`, leaf.pem);
    const answer = await files.run(['ocsp', digest, '-issuer', 'ca.pem', '-cert', `hash${digest}.pem`, '-url', url(), '-CAfile', 'ca.pem']);
    expect(answer.stderr).toContain('Response verify OK');
    expect(answer.stdout).toContain(`hash${digest}.pem: good`);
  });

  // RFC 6960 4.4 and RFC 5280 4.2: a critical extension not understood must not be ignored (it was answered successful).
  it('refuses a request with a critical extension it does not understand, and answers one that is not critical', async () => {
    await files.ok(['ocsp', '-issuer', 'ca.pem', '-cert', 'device.pem', '-no_nonce', '-reqout', 'ext.req']);
    const withExtension = (critical: boolean): Uint8Array => {
      const request = pkijs.OCSPRequest.fromBER(new Uint8Array(files.read('ext.req')));
      request.tbsRequest.requestExtensions = [new pkijs.Extension({ extnID: '1.2.3.4.5', critical, extnValue: new asn1js.Null().toBER() })];
      return new Uint8Array(request.toSchema(true).toBER());
    };
    expect(responseStatus((await post(withExtension(true))).der)).toBe(1);
    expect(responseStatus((await post(withExtension(false))).der)).toBe(0);
  });

  it('says unknown for a serial its CA never issued, and unauthorized for another CA', async () => {
    const stranger = await testLeaf(pkiOfFirst(svc), { baseUrl: svc.url, name: 'not-recorded' });
    files.write('stranger.pem', stranger.pem);
    const unknown = await files.run(['ocsp', '-issuer', 'ca.pem', '-cert', 'stranger.pem', '-url', url(), '-CAfile', 'ca.pem']);
    expect(unknown.stdout).toContain('stranger.pem: unknown');

    const other = await testCa('other');
    files.write('other-ca.pem', other.pem);
    files.write('other.pem', (await testLeaf(other, { baseUrl: svc.url, name: 'elsewhere' })).pem);
    await files.ok(['ocsp', '-issuer', 'other-ca.pem', '-cert', 'other.pem', '-reqout', 'other.req']);
    expect(responseStatus((await post(files.read('other.req'))).der)).toBe(6);
    expect(responseStatus((await post(files.read('other.req'), 'no-such-ca')).der)).toBe(6);
  });

  it('refuses malformed requests and oversized nonces with malformedRequest, and oversized bodies', async () => {
    expect(responseStatus((await post(new Uint8Array([0x30, 0x03, 0x01, 0x02]))).der)).toBe(1);
    const garbled = await fetch(`${url()}/${encodeURIComponent('not base64!')}`);
    expect(responseStatus(new Uint8Array(await garbled.arrayBuffer()))).toBe(1);

    await files.ok(['ocsp', '-issuer', 'ca.pem', '-cert', 'device.pem', '-no_nonce', '-reqout', 'plain.req']);
    const template = new Uint8Array(files.read('plain.req'));
    expect(responseStatus((await post(requestWithNonce(template, 33))).der)).toBe(1);
    const fine = await post(requestWithNonce(template, 32));
    expect(responseStatus(fine.der)).toBe(0);

    const tooBig = await post(new Uint8Array(17 * 1024));
    expect(tooBig.response.status).toBe(413);
  });
});

const pkiOfFirst = (svc: TestService) => svc.service.context.pkiRevocation!.current!.cas[0]!;
