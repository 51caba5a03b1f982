import { afterEach, describe, expect, it, vi } from 'vitest';
import { useTestService } from './support/service.ts';

/*
 * Review 199 (SER-001): `GET /openapi.json` serialised its 428 KB document with JSON.stringify at every request (5 ms
 * of CPU each; twenty a second from one address took a tenth of the event loop). It is serialised once, as the service
 * is ready, and served with a strong ETag: a client that has it is answered 304 with no body.
 */
const svc = useTestService();

afterEach(() => {
  vi.restoreAllMocks();
});

describe('GET /openapi.json (and /docs/json, the docs page\'s copy)', () => {
  it('answers the same bytes each time, with a strong ETag and a Cache-Control that makes caches revalidate', async () => {
    const first = await fetch(`${svc.url}/openapi.json`);
    const second = await fetch(`${svc.url}/openapi.json`);
    expect(first.status).toBe(200);
    const [a, b] = [await first.text(), await second.text()];
    expect(b).toBe(a);
    expect(JSON.parse(a)).toMatchObject({ openapi: '3.1.0' });
    expect(first.headers.get('content-type')).toMatch(/^application\/json/);
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(second.headers.get('etag')).toBe(etag);
    expect(first.headers.get('cache-control')).toBe('public, no-cache');
    // The docs page reads the same document at /docs/json.
    const docs = await fetch(`${svc.url}/docs/json`);
    expect(await docs.text()).toBe(a);
    expect(docs.headers.get('etag')).toBe(etag);
  });

  it('answers a matching If-None-Match 304 with no body, and one that does not match 200', async () => {
    const etag = (await fetch(`${svc.url}/openapi.json`)).headers.get('etag')!;
    for (const condition of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const again = await fetch(`${svc.url}/openapi.json`, { headers: { 'if-none-match': condition } });
      expect(again.status, condition).toBe(304);
      expect(await again.text()).toBe('');
      expect(again.headers.get('etag')).toBe(etag);
      expect(again.headers.get('x-request-id')).not.toBeNull();
    }
    const other = await fetch(`${svc.url}/openapi.json`, { headers: { 'if-none-match': '"other"' } });
    expect(other.status).toBe(200);
    expect((await other.text()).length).toBeGreaterThan(1_000);
  });

  it('does not serialise the document again for a request', async () => {
    await fetch(`${svc.url}/openapi.json`);
    const stringify = vi.spyOn(JSON, 'stringify');
    for (let i = 0; i < 3; i++) {
      expect((await fetch(`${svc.url}/openapi.json`)).status).toBe(200);
      expect((await fetch(`${svc.url}/docs/json`)).status).toBe(200);
    }
    const ofTheDocument = stringify.mock.calls.filter(([value]) => typeof value === 'object' && value !== null && 'openapi' in value);
    expect(ofTheDocument).toHaveLength(0);
  });
});
