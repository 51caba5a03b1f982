/**
 * Review 171 (A): Fastify runs a GET route's handler for HEAD too, and the OCSP GET answered HEAD with `Cache-Control:
 * no-store`, no validators, and `200` where GET with a matching If-None-Match is `304`. RFC 9110 9.3.2: HEAD carries
 * the header fields GET would, without content (the CRL routes already did).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ocspRequest } from './support/ocsp-client.ts';
import { issueCertifiedCredential, pkiOf, startPkiService } from './support/pki-test-ca.ts';
import type { TestService } from './support/service.ts';

const CACHE_HEADERS = ['cache-control', 'etag', 'last-modified', 'expires'] as const;
const cacheHeadersOf = (reply: Response): Record<string, string | null> => Object.fromEntries(CACHE_HEADERS.map((h) => [h, reply.headers.get(h)]));

describe('an OCSP GET asked with HEAD', () => {
  let svc: TestService;
  let url: string;
  beforeAll(async () => {
    svc = await startPkiService('p256');
    const leaf = await issueCertifiedCredential(svc, 'cred-ocsp-head');
    url = `${svc.url}/pki/default/ocsp/${encodeURIComponent(Buffer.from(await ocspRequest(leaf, pkiOf(svc).cas[0]!)).toString('base64'))}`;
  }, 60_000);
  afterAll(async () => svc?.close());

  it('answers with the status and cache headers of GET, and no body', async () => {
    const get = await fetch(url);
    const body = new Uint8Array(await get.arrayBuffer());
    expect(get.status).toBe(200);
    expect(get.headers.get('cache-control')).toBe('public, no-cache');
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(cacheHeadersOf(head)).toEqual(cacheHeadersOf(get));
    expect(head.headers.get('content-type')).toBe('application/ocsp-response');
    expect(head.headers.get('content-length')).toBe(String(body.length));
    expect((await head.arrayBuffer()).byteLength).toBe(0);
  });

  it('is answered 304 with the ETag and Cache-Control of GET when If-None-Match names the current ETag', async () => {
    const get = await fetch(url);
    const etag = get.headers.get('etag')!;
    const revalidated = await fetch(url, { headers: { 'if-none-match': etag } });
    expect(revalidated.status).toBe(304);
    const head = await fetch(url, { method: 'HEAD', headers: { 'if-none-match': etag } });
    expect(head.status).toBe(304);
    expect(head.headers.get('etag')).toBe(etag);
    expect(head.headers.get('cache-control')).toBe('public, no-cache');
    expect(cacheHeadersOf(head)).toEqual(cacheHeadersOf(revalidated));
    expect((await head.arrayBuffer()).byteLength).toBe(0);
  });
});
