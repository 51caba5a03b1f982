import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ocspRequest, ocspStatus } from './support/ocsp-client.ts';
import { issueCertifiedCredential, pkiOf, startPkiService } from './support/pki-test-ca.ts';
import type { TestService } from './support/service.ts';
import type { TestLeaf } from './support/pki-test-ca.ts';

/*
 * An OCSP client reads OCSPResponses only (RFC 6960 2.3). A CA name no CA could have (capitals, an underscore) was
 * refused by the route's schema with a JSON 400, where an unknown CA of a valid name got `unauthorized`; and a GET
 * request in the URL-safe base64 alphabet (RFC 4648 5), which some clients send, was answered `malformedRequest`.
 */
describe('the OCSP responder answers every request with an OCSPResponse', () => {
  let svc: TestService;
  let request: Uint8Array;
  let leaf: TestLeaf;
  beforeAll(async () => {
    svc = await startPkiService('p256');
    leaf = await issueCertifiedCredential(svc, 'cred-ocsp-forms');
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

  /** `template` with a nonce of nine 0xff octets: its base64 holds `/` (`////` for every three aligned octets) and `+`. */
  const withSlashes = (template: Uint8Array): Uint8Array => {
    const parsed = pkijs.OCSPRequest.fromBER(Uint8Array.from(template));
    parsed.tbsRequest.requestExtensions = [
      new pkijs.Extension({ extnID: '1.3.6.1.5.5.7.48.1.2', extnValue: new asn1js.OctetString({ valueHex: new Uint8Array(9).fill(0xff) }).toBER() }),
    ];
    return new Uint8Array(parsed.toSchema(true).toBER());
  };
  const getRaw = (path: string) => fetch(`${svc.url}/pki/default/ocsp/${path}`);

  // RFC 6960 A.1's base64 includes `/`, which many clients send unencoded: it split the request over path segments,
  // and no route matched (a JSON 404).
  it('reads a GET request whose base64 `/` is not percent-encoded, the rest encoded or not', async () => {
    const base64 = Buffer.from(withSlashes(request)).toString('base64');
    expect(base64).toContain('//');
    const slashesRaw = base64.split('/').map(encodeURIComponent).join('/');
    for (const path of [slashesRaw, base64]) {
      const answer = await statusOf(await getRaw(path));
      expect(answer.status).toBe(0);
      expect(ocspStatus(answer.der)).toBe('good');
    }
  });

  // A request of more than 300 characters was refused by the router with a JSON 414.
  it('reads a GET request of several SHA-512 CertIDs, longer than any path parameter', async () => {
    const ca = pkiOf(svc).cas[0]!;
    const single = pkijs.OCSPRequest.fromBER(await ocspRequest(leaf, ca, 'SHA-512'));
    const reqCert = single.tbsRequest.requestList[0]!.reqCert;
    single.tbsRequest.requestList = Array.from({ length: 4 }, () => new pkijs.Request({ reqCert }));
    const base64 = Buffer.from(withSlashes(new Uint8Array(single.toSchema(true).toBER()))).toString('base64');
    expect(base64.length).toBeGreaterThan(600);
    const answer = await statusOf(await get('default', base64));
    expect(answer.status).toBe(0);
    expect(ocspStatus(answer.der)).toBe('good');
  });

  it('answers malformedRequest (1), not a JSON problem, for a GET request longer than 4096 characters', async () => {
    expect((await statusOf(await getRaw('A'.repeat(4100)))).status).toBe(1);
    expect((await statusOf(await getRaw(`${'QUFB/'.repeat(900)}`))).status).toBe(1);
  });

  it.each(['', '/', 'not%20base64', 'QUFB/QUFB==/QUFB', 'QUFB%ZZ', '%'])('answers malformedRequest (1) for the GET path %j', async (path) => {
    expect((await statusOf(await getRaw(path))).status).toBe(1);
  });

  it('answers malformedRequest (1) for a segment mixing the two alphabets', async () => {
    const standard = Buffer.from(request).toString('base64');
    const mixed = `${standard.slice(0, 4)}-_${standard.slice(6)}`;
    expect(/[+/]/.test(mixed)).toBe(true);
    expect((await statusOf(await get('default', mixed))).status).toBe(1);
  });
});
