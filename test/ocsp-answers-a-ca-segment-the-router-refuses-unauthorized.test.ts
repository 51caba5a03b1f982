import * as pkijs from 'pkijs';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ocspRequest } from './support/ocsp-client.ts';
import { hasOpenssl, OpenSslDir, pem } from './support/openssl.ts';
import { issueCertifiedCredential, pkiOf, startPkiService } from './support/pki-test-ca.ts';
import type { TestService } from './support/service.ts';

/*
 * An OCSP client reads OCSPResponses only (RFC 6960 2.3), and a responder that cannot answer for a CA answers
 * `unauthorized` (RFC 6960 2.3, RFC 5019 2.2.3). A CA segment the router refuses before any route (a malformed
 * %-escape, or longer than any path parameter) was answered, by POST, with a JSON 400 or 414 problem that OpenSSL
 * cannot read, and, by GET, `malformedRequest`, as if the OCSPRequest were at fault. The service's other routes keep
 * their problem documents, and so does a POST that is not `application/ocsp-request`.
 */
describe('the OCSP responder answers a CA segment the router refuses with unauthorized', () => {
  let svc: TestService;
  let request: Uint8Array;
  const files = new OpenSslDir('credence-ocsp-ca-segment-');
  const LONG_CA = 'x'.repeat(301);
  beforeAll(async () => {
    svc = await startPkiService('p256');
    const leaf = await issueCertifiedCredential(svc, 'cred-ocsp-ca-segment');
    request = await ocspRequest(leaf, pkiOf(svc).cas[0]!);
    files.write('ca.pem', pem('CERTIFICATE', pkiOf(svc).cas[0]!.certificate));
    files.write('device.pem', leaf.pem);
  }, 60_000);
  afterAll(async () => {
    await svc?.close();
    files.remove();
  });

  /** A request with the path exactly as given: fetch would re-encode a malformed %-escape. */
  const send = (method: 'GET' | 'POST', path: string, contentType?: string) =>
    new Promise<{ status: number; type: string; body: Buffer }>((resolve, reject) => {
      const url = new URL(svc.url);
      const outgoing = httpRequest(
        { host: url.hostname, port: url.port, method, path, headers: contentType === undefined ? {} : { 'content-type': contentType } },
        (incoming) => {
          const chunks: Buffer[] = [];
          incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
          incoming.on('end', () => resolve({ status: incoming.statusCode!, type: String(incoming.headers['content-type']), body: Buffer.concat(chunks) }));
        },
      );
      outgoing.on('error', reject);
      outgoing.end(method === 'POST' ? Buffer.from(request) : undefined);
    });
  /** The OCSPResponseStatus of an answer that must be an OCSPResponse (RFC 6960 4.2.1), sent with HTTP 200. */
  const ocspStatusOf = (answer: { status: number; type: string; body: Buffer }): number => {
    expect(answer.status).toBe(200);
    expect(answer.type).toBe('application/ocsp-response');
    return pkijs.OCSPResponse.fromBER(new Uint8Array(answer.body)).responseStatus.valueBlock.valueDec;
  };
  const base64 = () => encodeURIComponent(Buffer.from(request).toString('base64'));

  it.each([
    ['longer than any path parameter', LONG_CA],
    ['with a malformed percent-escape', 'de%ZZfault'],
  ])('answers unauthorized (6) for a CA segment %s, by POST', async (_what, ca) => {
    expect(ocspStatusOf(await send('POST', `/pki/${ca}/ocsp`, 'application/ocsp-request'))).toBe(6);
    // The content type is matched as the route's parser matches it: in any case, with parameters.
    expect(ocspStatusOf(await send('POST', `/pki/${ca}/ocsp`, 'Application/OCSP-Request; charset=binary'))).toBe(6);
    // Not an OCSP client's request (RFC 6960 A.1.1 names the type): the problem the route itself gives such a POST.
    const other = await send('POST', `/pki/${ca}/ocsp`, 'application/octet-stream');
    expect(other.status).toBeGreaterThanOrEqual(400);
    expect(other.type).toMatch(/^application\/problem\+json/);
  });

  it.each([
    ['longer than any path parameter', LONG_CA],
    ['with a malformed percent-escape', 'de%ZZfault'],
  ])('answers unauthorized (6) for a CA segment %s, by GET, whatever the request after it', async (_what, ca) => {
    expect(ocspStatusOf(await send('GET', `/pki/${ca}/ocsp/${base64()}`))).toBe(6);
    expect(ocspStatusOf(await send('GET', `/pki/${ca}/ocsp/QUFB%ZZ`))).toBe(6);
    // The CA is ours and the request is what the router cannot decode: the request is at fault.
    expect(ocspStatusOf(await send('GET', '/pki/default/ocsp/QUFB%ZZ'))).toBe(1);
  });

  it('answers unauthorized (6) with nothing of the path in it, and the other routes keep their problem documents', async () => {
    const answer = await send('POST', `/pki/${LONG_CA}/ocsp`, 'application/ocsp-request');
    expect(ocspStatusOf(answer)).toBe(6);
    // An unsigned error is the status alone (RFC 6960 4.2.1: no responseBytes), so nothing of the input is echoed.
    expect(pkijs.OCSPResponse.fromBER(new Uint8Array(answer.body)).responseBytes).toBeUndefined();
    expect(answer.body.includes(Buffer.from('xxxx'))).toBe(false);
    for (const [path, status] of [[`/pki/${LONG_CA}/crl`, 414], ['/pki/de%ZZfault/crl', 400], ['/pki/de%ZZfault/ca.crt', 400]] as const) {
      const problem = await send('GET', path);
      expect(problem.status).toBe(status);
      expect(problem.type).toMatch(/^application\/problem\+json/);
    }
  });

  it.skipIf(!hasOpenssl())('is read by openssl ocsp as the responder error unauthorized, for a CA segment the router refuses', async () => {
    const answer = await files.run(['ocsp', '-issuer', 'ca.pem', '-cert', 'device.pem', '-url', `${svc.url}/pki/${LONG_CA}/ocsp`, '-CAfile', 'ca.pem']);
    expect(answer.stdout + answer.stderr).toContain('Responder Error: unauthorized (6)');
  });
});
