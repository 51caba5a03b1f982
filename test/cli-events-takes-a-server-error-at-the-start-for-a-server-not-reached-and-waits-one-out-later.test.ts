import { createServer, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';

/*
 * Review 206 finding 1: behind a reverse proxy, a server restart is answered 502 (or 504). `credence events` then
 * ended for good, exit 1 "refused: Bad Gateway (502)", where a server not reached is exit 3 and the same restart
 * without a proxy was waited out. Now a server error a retry may mend is, on the first connection, a server not reached
 * (exit 3, naming the status), and on a reconnection waited out; a refusal (4xx, 501, 505) stays exit 1.
 */

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** A stand-in proxy on 127.0.0.1 whose n-th request (from 0) is answered as `answer` says. */
const proxy = async (answer: (n: number, res: ServerResponse) => void): Promise<string> => {
  let n = 0;
  const server: Server = createServer((_req, res) => answer(n++, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
};

const page = (res: ServerResponse, status: number): void => void res.writeHead(status, { 'content-type': 'text/html' }).end(`<html><body>${status}</body></html>`);
const event = (position: number, type: string): string =>
  `retry: 250\nid: ${position}~0000000${position}\nevent: ${type}\ndata: {"position":"${position}","type":"${type}","streamId":"node-m1","metadata":{"occurredAt":"2026-01-01T00:00:00Z"}}\n\n`;
const stream = (res: ServerResponse, body: string): void => void res.writeHead(200, { 'content-type': 'text/event-stream' }).end(body);

const events = (url: string, ...argv: string[]) => runCli(['events', '--server', url, '--token', 't', ...argv]);

describe('credence events and a server error', () => {
  it.each([502, 504, 500, 503])('on the first connection, a %d is a server not reached: exit 3 naming the status', async (status) => {
    const url = await proxy((_n, res) => page(res, status));
    const r = await events(url, '--limit', '1');
    expect(r.code, r.err).toBe(3);
    expect(r.out).toBe('');
    expect(r.err).toMatch(new RegExp(`^error: http://127\\.0\\.0\\.1:\\d+ did not serve the stream: .*\\(${status}\\)`));
  });

  it('on the first connection, a refusal no retry changes stays exit 1, the problem printed', async () => {
    for (const status of [501, 404]) {
      const url = await proxy((_n, res) => page(res, status));
      const r = await events(url, '--limit', '1');
      expect([r.code, r.err], String(status)).toEqual([1, expect.stringMatching(new RegExp(`^refused: .*\\(${status}\\)`))]);
    }
  });

  it('once the stream has opened, a proxy’s 502 and 504 are waited out and the stream resumes after the last event', async () => {
    const url = await proxy((n, res) => (n === 0 ? stream(res, event(1, 'NodeRegistered')) : n === 1 ? page(res, 502) : n === 2 ? page(res, 504) : stream(res, event(2, 'NodeEnrolled'))));
    const r = await events(url, '--limit', '2');
    expect(r.code, r.err).toBe(0);
    expect(r.out.split('\n').map((line) => line.split(' ')[2])).toEqual(['NodeRegistered', 'NodeEnrolled']);
    expect(r.err).toMatch(/^note: reconnecting in /m);
  }, 20_000);
});
