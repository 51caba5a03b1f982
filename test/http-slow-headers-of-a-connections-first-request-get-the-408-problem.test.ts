import { describe, expect, it } from 'vitest';
import { rawHttpSocket } from './support/raw-http-socket.ts';
import { useTestService } from './support/service.ts';

/*
 * Review 199: the headers of a connection's first request sent too slowly were cut with a silent close, not the
 * documented 408 problem: the bound on a connection that has begun no request (connection-limits.ts) destroyed the
 * socket at exactly limits.requestTimeoutMs, before Node's own check (every quarter of it, at most a second) could
 * answer. test/http-a-request-sent-too-slowly-is-cut-at-the-request-timeout.test.ts covers a second request.
 */
const REQUEST_TIMEOUT_MS = 1_500;
const svc = useTestService({ config: { probePort: 0, limits: { requestTimeoutMs: REQUEST_TIMEOUT_MS } } });

describe("a connection's first request whose headers come too slowly", () => {
  it.each([
    ['the API port', () => svc.url],
    ['the probe port', () => svc.service.probeUrl!],
  ])('is answered the 408 problem before its connection closes on %s', async (_port, url) => {
    const raw = await rawHttpSocket(url());
    const started = Date.now();
    raw.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    let n = 0;
    const timer = setInterval(() => {
      if (!raw.socket.destroyed) raw.socket.write(`x-slow-${n++}: 1\r\n`);
    }, 300);
    try {
      expect(await raw.closedWithin(30_000)).toBe(true);
      expect(Date.now() - started).toBeGreaterThan(1_000);
      const answer = raw.received();
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(answer).toContain('application/problem+json');
      expect(answer).toContain('https://credence.dev/problems/request_timeout');
    } finally {
      clearInterval(timer);
      raw.socket.destroy();
    }
  });

  it('a connection that sends nothing, no request begun, is still closed at the timeout, with nothing to answer', async () => {
    const raw = await rawHttpSocket(svc.url);
    const started = Date.now();
    try {
      expect(await raw.closedWithin(30_000)).toBe(true);
      expect(Date.now() - started).toBeLessThan(REQUEST_TIMEOUT_MS + 500);
      expect(raw.received()).toBe('');
    } finally {
      raw.socket.destroy();
    }
  });
});
