import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { rawHttpSocket } from './support/raw-http-socket.ts';
import { useTestService } from './support/service.ts';

/*
 * Issue 1072: a burst of 1,400 POSTs from a child process on a loaded 2-core CI machine failed with `read ECONNRESET`.
 * The service accepted connections whose whole request was already in the kernel's buffer, then ran other requests'
 * handlers for longer than `limits.requestTimeoutMs` before its event loop polled them: the bound on a connection that
 * begins no request (connection-limits.ts), and Node's own headers timeout, judged them idle by `socket.bytesRead`, what
 * the process had read, and closed them with the request unread, which the kernel answers with a reset. A connection
 * found with nothing read is now judged after one more turn of the event loop's I/O, which reads what was sent.
 */

const REQUEST_TIMEOUT_MS = 1_000;
const svc = useTestService({ config: { limits: { requestTimeoutMs: REQUEST_TIMEOUT_MS } } });

/** Holds the event loop, as a service busy with other requests' handlers does. */
const busyFor = (ms: number): void => {
  for (const end = Date.now() + ms; Date.now() < end; );
};

describe('a request sent within limits.requestTimeoutMs while the service is too busy to read it', () => {
  it('is answered once the service reads it, not reset as an idle connection', async () => {
    const server = svc.service.app.server;
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const raw = await rawHttpSocket(svc.url);
    await accepted;
    try {
      // The whole request reaches the kernel at once, well within the bound; the service then does not get to read it
      // until the bound has passed (its timers come before its I/O in the loop's next turn).
      raw.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
      busyFor(REQUEST_TIMEOUT_MS + 500);
      expect(await raw.closedWithin(10_000)).toBe(true);
      expect(raw.received()).toMatch(/^HTTP\/1\.1 200 /);
    } finally {
      raw.socket.destroy();
    }
  });

  it('still closes a connection that sent nothing, once the bound has passed', async () => {
    const raw = await rawHttpSocket(svc.url);
    try {
      const started = Date.now();
      expect(await raw.closedWithin(10_000)).toBe(true);
      expect(Date.now() - started).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
      expect(Date.now() - started).toBeLessThan(REQUEST_TIMEOUT_MS + 2_000);
      expect(raw.received()).toBe('');
    } finally {
      raw.socket.destroy();
    }
  });

  it('never writes its refusal into an answer already begun: the event stream whose declared body never came is closed', async () => {
    const raw = await rawHttpSocket(svc.url);
    try {
      // The stream's answer begins at its head; the ten bytes its Content-Length declares never come, so the request
      // times out while its answer is being sent (review 438: `HTTP/1.1 408` was written into the chunked stream).
      raw.socket.write(`GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${svc.tokens.auditor}\r\nContent-Length: 10\r\n\r\n`);
      expect(await raw.closedWithin(REQUEST_TIMEOUT_MS + 10_000)).toBe(true);
      expect(raw.received()).toMatch(/^HTTP\/1\.1 200 /);
      expect(raw.received()).not.toContain('HTTP/1.1 408');
    } finally {
      raw.socket.destroy();
    }
  });
});
