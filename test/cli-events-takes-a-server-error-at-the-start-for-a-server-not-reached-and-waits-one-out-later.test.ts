import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { eventFrame as event, eventsCli as events, numberedAnswers, streamed as stream } from './support/event-stream-stand-in.ts';

/*
 * Review 206 finding 1: behind a reverse proxy, a server restart is answered 502 (or 504). `credence events` then
 * ended for good, exit 1 "refused: Bad Gateway (502)", where a server not reached is exit 3 and the same restart
 * without a proxy was waited out. Now a server error a retry may mend is, on the first connection, a server not reached
 * (exit 3, naming the status), and on a reconnection waited out; a refusal (4xx, 501, 505) stays exit 1.
 */

const proxy = numberedAnswers();

const page = (res: ServerResponse, status: number): void => void res.writeHead(status, { 'content-type': 'text/html' }).end(`<html><body>${status}</body></html>`);

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
