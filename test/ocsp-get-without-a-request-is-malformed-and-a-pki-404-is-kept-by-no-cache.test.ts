import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as pkijs from 'pkijs';
import { startPkiService } from './support/pki-test-ca.ts';
import type { TestService } from './support/service.ts';

/*
 * Review 306: a bare `GET /pki/{ca}/ocsp` got a JSON 404 without `Cache-Control: no-store`, though whatever an OCSP
 * client asks it is answered an OCSPResponse; `/pki/default/crl/` (a trailing slash) a 404 a cache could keep. Now the
 * first is `malformedRequest`, as `…/ocsp/` is, and the CRLs' trailing-slash 404 is `no-store`.
 */
const responseStatus = (der: ArrayBuffer): number => pkijs.OCSPResponse.fromBER(new Uint8Array(der)).responseStatus.valueBlock.valueDec;
const MALFORMED_REQUEST = 1;

describe('the PKI routes asked for what is no request', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startPkiService('p256');
  }, 60_000);
  afterAll(() => svc?.close());

  it.each(['/pki/default/ocsp', '/pki/default/ocsp/'])('GET %s is an OCSPResponse malformedRequest, no-store', async (path) => {
    const answer = await fetch(`${svc.url}${path}`);
    expect([answer.status, answer.headers.get('content-type'), answer.headers.get('cache-control')]).toEqual([200, 'application/ocsp-response', 'no-store']);
    expect(responseStatus(await answer.arrayBuffer())).toBe(MALFORMED_REQUEST);
  });

  it.each(['/pki/default/crl/', '/pki/default/delta-crl/'])('GET %s is a 404 no cache keeps', async (path) => {
    const answer = await fetch(`${svc.url}${path}`);
    expect([answer.status, answer.headers.get('cache-control')]).toEqual([404, 'no-store']);
    expect(((await answer.json()) as { type: string }).type).toMatch(/route_not_found$/);
  });
});
