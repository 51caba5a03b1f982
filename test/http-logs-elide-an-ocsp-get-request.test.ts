import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { elidedOcspRequest } from '../adapters/http/elided-ocsp-request.ts';
import { ocspRequest } from './support/ocsp-client.ts';
import { issueCertifiedCredential, pkiOf, startPkiService } from './support/pki-test-ca.ts';
import type { TestService } from './support/service.ts';

/*
 * Review 82 (left over): the request log kept an OCSP GET's whole URL, the base64 OCSPRequest after `ocsp/` (RFC 6960
 * A.1), up to ~4 KB on every such line. The line now keeps the route and the CA, and the request's length only.
 */
describe('the request log of an OCSP GET', () => {
  let svc: TestService;
  let base64: string;
  beforeAll(async () => {
    svc = await startPkiService('p256');
    const leaf = await issueCertifiedCredential(svc, 'cred-ocsp-logged');
    base64 = Buffer.from(await ocspRequest(leaf, pkiOf(svc).cas[0]!)).toString('base64');
  }, 60_000);
  afterAll(async () => svc?.close());

  /** The `req.url` of every log line of the request the service answered with `requestId`. */
  const loggedUrls = (requestId: string): string[] =>
    svc
      .logs()
      .map((line) => JSON.parse(line) as { reqId?: string; req?: { url?: string } })
      .filter((line) => line.reqId === requestId && line.req?.url !== undefined)
      .map((line) => line.req!.url!);

  /** GETs `path`; the lines logged of it, and every log line that holds `text`. */
  const get = async (path: string, text: string): Promise<{ urls: string[]; holding: string[] }> => {
    const reply = await fetch(`${svc.url}${path}`);
    await reply.arrayBuffer();
    expect(reply.status).toBe(200);
    const urls = loggedUrls(reply.headers.get('x-request-id')!);
    return { urls, holding: svc.logs().filter((line) => line.includes(text)) };
  };

  it('keeps the route and the CA, and of the request its length, however the request is spelled', async () => {
    // The `/` of base64 percent-encoded (as RFC 6960 A.1 asks), and left as it is (as many clients send it).
    for (const request of [encodeURIComponent(base64), base64]) {
      const { urls, holding } = await get(`/pki/default/ocsp/${request}`, base64.slice(0, 40));
      expect(urls).toEqual([`/pki/default/ocsp/<elided ${request.length} bytes>`]);
      expect(holding).toEqual([]);
    }
  });

  it('elides a request too long to be read (answered malformedRequest) the same way, its query redacted as any other', async () => {
    const long = 'QUJD'.repeat(1100);
    const { urls, holding } = await get(`/pki/default/ocsp/${long}?nonce=x`, long.slice(0, 40));
    expect(urls).toEqual([`/pki/default/ocsp/<elided ${long.length} bytes>?[redacted]`]);
    expect(holding).toEqual([]);
  });

  it('leaves every other URL as it was, the POST route included', () => {
    for (const url of ['/pki/default/ocsp', '/pki/default/ocsp/', '/pki/default/crl', '/v1/entities?kind=node', '/pki/default/ocspx/abc']) {
      expect(elidedOcspRequest(url)).toBe(url);
    }
  });
});
