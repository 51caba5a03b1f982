import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { rawHttpSocket } from './support/raw-http-socket.ts';
import { useTestService } from './support/service.ts';

/*
 * Review 444: with `limits.requestTimeoutMs: 0` a connection could be held open with no bound. Node's headers check,
 * finding a socket with nothing read, stops timing it, and the service judges it one I/O turn later (issue 1072); a
 * CRLF read in that turn handed the socket back to Node's parser, which skips a leading CRLF without beginning a
 * message, so nothing timed it again (still open at 22.7 s). The bound on a connection that has begun no request
 * (connection-limits.ts) is now always on, at Node's headers timeout when the setting is 0, and counts from the
 * connection's start: a first byte read in that turn does not restart the head's allowance either.
 */
const svc = useTestService({ config: { limits: { requestTimeoutMs: 0 } } });

/** Holds the event loop, as a service busy with other requests' handlers does. */
const busyFor = (ms: number): void => {
  for (const end = Date.now() + ms; Date.now() < end; );
};

/** Node checks its timeouts every second at most (request-head.ts); the loop is held past the bound and that check. */
const PAST_THE_CHECK_MS = 1_300;

/**
 * A new connection, `bytes` written to it, then the loop held until Node's headers check finds it with nothing read:
 * what it sent is read in the I/O turn the service puts its judgement off to.
 */
const sentWhileBusy = async (headersTimeoutMs: number, bytes: string) => {
  const server = svc.service.app.server;
  server.headersTimeout = headersTimeoutMs;
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const raw = await rawHttpSocket(svc.url);
  await accepted;
  raw.socket.write(bytes);
  busyFor(headersTimeoutMs + PAST_THE_CHECK_MS);
  return raw;
};

describe('with limits.requestTimeoutMs 0, a connection whose first bytes are read in the turn after Node\'s headers check', () => {
  it('sent only a CRLF: answered the 408 problem and closed, not held open unbounded', async () => {
    const raw = await sentWhileBusy(1_500, '\r\n');
    try {
      expect(await raw.closedWithin(10_000)).toBe(true);
      expect(raw.received()).toMatch(/^HTTP\/1\.1 408 /);
      expect(raw.received()).toContain('https://credence.dev/problems/request_timeout');
    } finally {
      raw.socket.destroy();
      svc.service.app.server.headersTimeout = 60_000;
    }
  });

  it('sent the first byte of a head: bounded from the connection\'s start, its allowance not begun again', async () => {
    // Node would time a head begun now afresh, a whole headers timeout (4 s) from here; the bound ran out already.
    const raw = await sentWhileBusy(4_000, 'G');
    const resumed = Date.now();
    try {
      expect(await raw.closedWithin(10_000)).toBe(true);
      expect(Date.now() - resumed).toBeLessThan(2_000);
      expect(raw.received()).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      raw.socket.destroy();
      svc.service.app.server.headersTimeout = 60_000;
    }
  });
});
