import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ocspRequest, ocspStatus } from './support/ocsp-client.ts';
import { issueCertifiedCredential, pkiOf, startPkiService } from './support/pki-test-ca.ts';
import type { TestService } from './support/service.ts';

/*
 * An OCSP client reads OCSPResponses only (RFC 6960 2.3). A CA name no CA could have (capitals, an underscore) was
 * refused by the route's schema with a JSON 400, where an unknown CA of a valid name got `unauthorized`; and a GET
 * request in the URL-safe base64 alphabet (RFC 4648 5), which some clients send, was answered `malformedRequest`.
 */
describe('the OCSP responder answers every request with an OCSPResponse', () => {
  let svc: TestService;
  let request: Uint8Array;
  beforeAll(async () => {
    svc = await startPkiService('p256');
    const leaf = await issueCertifiedCredential(svc, 'cred-ocsp-forms');
    request = await ocspRequest(leaf, pkiOf(svc).cas[0]!);
  }, 60_000);
  afterAll(async () => svc?.close());

  const statusOf = async (reply: Response): Promise<{ status: number; der: Uint8Array }> => {
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toBe('application/ocsp-response');
    const der = new Uint8Array(await reply.arrayBuffer());
    return { status: pkijs.OCSPResponse.fromBER(der).responseStatus.valueBlock.valueDec, der };
  };
  const post = (caId: string) =>
    fetch(`${svc.url}/pki/${caId}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: Buffer.from(request) });
  const get = (caId: string, segment: string) => fetch(`${svc.url}/pki/${caId}/ocsp/${encodeURIComponent(segment)}`);

  it.each(['Default', 'no_such_ca', '-leading-dash', 'x'.repeat(64)])('answers unauthorized (6) for the CA name %s, by POST and by GET', async (caId) => {
    expect((await statusOf(await post(caId))).status).toBe(6);
    expect((await statusOf(await get(caId, Buffer.from(request).toString('base64')))).status).toBe(6);
  });

  it('reads a GET request in the URL-safe alphabet as the same request', async () => {
    const standard = Buffer.from(request).toString('base64');
    const urlSafe = Buffer.from(request).toString('base64url');
    // The request must hold a character the two alphabets spell differently, or this proves nothing.
    expect(urlSafe.replace(/=+$/, '')).not.toBe(standard.replace(/=+$/, ''));
    const answer = await statusOf(await get('default', urlSafe));
    expect(answer.status).toBe(0);
    expect(ocspStatus(answer.der)).toBe('good');
  });

  it('answers malformedRequest (1) for a segment mixing the two alphabets', async () => {
    const standard = Buffer.from(request).toString('base64');
    const mixed = `${standard.slice(0, 4)}-_${standard.slice(6)}`;
    expect(/[+/]/.test(mixed)).toBe(true);
    expect((await statusOf(await get('default', mixed))).status).toBe(1);
  });
});
