import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPkiService } from './support/pki-test-ca.ts';
import type { TestService } from './support/service.ts';

/*
 * Review 306: ca.crt, chain.pem and trust-bundle.pem carried no Cache-Control, ETag or Last-Modified, though they
 * change at `ca renew`; a cache kept them by its heuristic. Now, as the CRLs: `public, no-cache` and a strong ETag of
 * the bytes, and If-None-Match naming it is answered 304.
 */
describe('the CA certificate, chain and trust bundle', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startPkiService('p256');
  }, 60_000);
  afterAll(() => svc?.close());

  it.each(['/pki/default/ca.crt', '/pki/default/chain.pem', '/pki/trust-bundle.pem'])('%s: public, no-cache with an ETag; 304 when it is named', async (path) => {
    const first = await fetch(`${svc.url}${path}`);
    expect(first.status).toBe(200);
    const body = Buffer.from(await first.arrayBuffer());
    expect(body.length).toBeGreaterThan(0);
    expect(first.headers.get('cache-control')).toBe('public, no-cache');
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{32}"$/);
    const again = await fetch(`${svc.url}${path}`, { headers: { 'if-none-match': `W/${etag!}, "other"` } });
    expect([again.status, again.headers.get('etag'), again.headers.get('cache-control')]).toEqual([304, etag, 'public, no-cache']);
    const other = await fetch(`${svc.url}${path}`, { headers: { 'if-none-match': '"other"' } });
    expect(other.status).toBe(200);
    expect(Buffer.from(await other.arrayBuffer())).toEqual(body);
  });
});
