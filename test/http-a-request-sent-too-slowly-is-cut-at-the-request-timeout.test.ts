import { describe, expect, it } from 'vitest';
import { rawHttpSocket, type RawHttpSocket, until } from './support/raw-http-socket.ts';
import { useTestService } from './support/service.ts';

/*
 * Review 175 (SER-001): `limits.requestTimeoutMs` did not bound a slow body, nor slow headers of a kept-alive
 * connection's next request. Fastify set `server.requestTimeout` after Node had built the server, so Node's headers
 * timeout stayed 60 s and it checked its timeouts every 30 s: a body trickled one byte every 5 s was cut after 89.7 s
 * under the default 30 s, and with 2 s a slow body was still open at 40 s. The timeouts are now given to Node as it
 * builds each listener, checked often enough for the bound to hold.
 */

const REQUEST_TIMEOUT_MS = 1_500;
const svc = useTestService({ config: { probePort: 0, limits: { requestTimeoutMs: REQUEST_TIMEOUT_MS } } });

/** Writes `pieces` one every 300 ms until the server closes the connection; how long after the first it closed. */
const trickle = async (raw: RawHttpSocket, pieces: () => string): Promise<number> => {
  const started = Date.now();
  const timer = setInterval(() => {
    if (!raw.socket.destroyed) raw.socket.write(pieces());
  }, 300);
  try {
    expect(await raw.closedWithin(30_000)).toBe(true);
    return Date.now() - started;
  } finally {
    clearInterval(timer);
    raw.socket.destroy();
  }
};

/** What the server sent after `offset`: the 408 problem, before it closed the connection. */
const expectTimedOut = (raw: RawHttpSocket, offset = 0): void => {
  const answer = raw.received().slice(offset);
  expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  expect(answer).toContain('application/problem+json');
  expect(answer).toContain('https://credence.dev/problems/request_timeout');
};

describe('limits.requestTimeoutMs bounds the time to receive a whole request', () => {
  it('cuts a body trickled one byte every 300 ms within a few seconds of the timeout, not at Node\'s 30 s check', async () => {
    const raw = await rawHttpSocket(svc.url);
    raw.socket.write(
      [
        'POST /v1/commands HTTP/1.1',
        'Host: 127.0.0.1',
        `Authorization: Bearer ${svc.tokens.operator}`,
        'Content-Type: application/json',
        'Content-Length: 1000',
        '',
        '',
      ].join('\r\n'),
    );
    const took = await trickle(raw, () => ' ');
    expect(took).toBeGreaterThan(1_000);
    expect(took).toBeLessThan(10_000);
    expectTimedOut(raw);
  });

  it.each([
    ['the API port', () => svc.url],
    ['the probe port', () => svc.service.probeUrl!],
  ])('cuts the slow headers of a kept-alive connection\'s second request on %s', async (_port, url) => {
    const raw = await rawHttpSocket(url());
    raw.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect(await until(() => /\r\n\r\n[\s\S]*\}/.test(raw.received()), 5_000)).toBe(true);
    const offset = raw.received().length;
    raw.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    let n = 0;
    const took = await trickle(raw, () => `x-slow-${n++}: 1\r\n`);
    expect(took).toBeGreaterThan(1_000);
    expect(took).toBeLessThan(10_000);
    expectTimedOut(raw, offset);
  });
});
