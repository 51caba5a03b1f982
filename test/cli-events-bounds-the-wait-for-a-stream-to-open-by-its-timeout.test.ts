import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { subscribeEvents, type SseEvent } from '../adapters/client/sse.ts';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';

/*
 * Review 186: `credence events` had no --timeout and ignored CREDENCE_TIMEOUT. Against a server that took the
 * connection and never answered it waited about 5 minutes (undici's own headers timeout), then exit 3 `Headers Timeout
 * Error`; `--timeout 3` was exit 2, an unknown option. Now --timeout (or CREDENCE_TIMEOUT, default 30 s) bounds the wait
 * for the stream to open, on every connection, and never the live stream after that, which may idle for as long as
 * nothing happens.
 */

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** A server on 127.0.0.1 that accepts every connection and never answers it. */
const silent = async (): Promise<string> => {
  const sockets = new Set<Socket>();
  const server: TcpServer = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
};

/** An HTTP server on 127.0.0.1 whose n-th request (from 0) is answered as `answer` says. */
const http = async (answer: (n: number, res: import('node:http').ServerResponse) => void): Promise<string> => {
  let n = 0;
  const server: HttpServer = createHttpServer((_req, res) => answer(n++, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
};

const EVENT = 'id: 7\nevent: NodeRevoked\ndata: {"position":"7","type":"NodeRevoked","streamId":"node-m1","metadata":{"occurredAt":"2026-01-01T00:00:00Z"}}\n\n';

const cli = async (argv: string[], env: Record<string, string> = {}) => {
  const c = capture();
  const code = await main(argv, { ...c.io, env });
  return { code, out: c.out, err: c.err.join('\n') };
};

describe('credence events --timeout', () => {
  it('gives up on a server that never answers after --timeout, exit 3 with the timeout hint', async () => {
    const url = await silent();
    const r = await cli(['events', '--server', url, '--token', 't', '--limit', '1', '--timeout', '1']);
    expect(r.code, r.err).toBe(3);
    expect(r.err).toBe(`error: no answer from ${url} within 1 s\n  (for longer work give --timeout SECONDS or set CREDENCE_TIMEOUT)`);
    expect(r.out).toEqual([]);
  }, 20_000);

  it('takes CREDENCE_TIMEOUT as the other server commands do', async () => {
    const url = await silent();
    const r = await cli(['events', '--server', url, '--token', 't', '--limit', '1'], { CREDENCE_TIMEOUT: '1' });
    expect([r.code, r.err]).toEqual([3, `error: no answer from ${url} within 1 s\n  (for longer work give --timeout SECONDS or set CREDENCE_TIMEOUT)`]);
  }, 20_000);

  it('refuses a timeout that is not a number of seconds (exit 2), naming where it came from', async () => {
    const url = await silent();
    const flag = await cli(['events', '--server', url, '--token', 't', '--timeout', '0']);
    expect(flag.code).toBe(2);
    expect(flag.err).toContain('--timeout: must be a number of seconds, more than 0 and at most 86400');
    const env = await cli(['events', '--server', url, '--token', 't'], { CREDENCE_TIMEOUT: 'soon' });
    expect(env.code).toBe(2);
    expect(env.err).toContain('CREDENCE_TIMEOUT: must be a number of seconds, more than 0 and at most 86400');
  });

  it('does not cut a live stream that is idle for longer than --timeout', async () => {
    const url = await http((_n, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': open\n\n');
      setTimeout(() => res.write(EVENT), 2_000);
    });
    const r = await cli(['events', '--server', url, '--token', 't', '--limit', '1', '--timeout', '1']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toEqual(['@7 2026-01-01T00:00:00Z NodeRevoked                    node-m1']);
    expect(r.err).toBe('');
  }, 20_000);
});

describe('subscribeEvents connectTimeoutMs', () => {
  it('takes a reconnection that is never answered for a failed connect: backs off and tries again', async () => {
    // The first stream opens and ends at once; the second connection is accepted and never answered; the third serves.
    const url = await http((n, res) => {
      if (n === 1) return;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (n === 0) res.end(': first\n\n');
      else res.end(EVENT);
    });
    const waits: number[] = [];
    const events: SseEvent[] = [];
    const signal = AbortSignal.timeout(15_000);
    for await (const event of subscribeEvents(url, { path: '/v1/events', signal, connectTimeoutMs: 500, random: () => 0, onReconnect: (_id, ms) => void waits.push(ms) })) {
      events.push(event);
      break;
    }
    expect(signal.aborted).toBe(false);
    expect(events.map((e) => e.id)).toEqual(['7']);
    // A stream that ended, then a connection that timed out: the second wait is backed off as for a failed connect.
    expect(waits).toEqual([1_000, 2_000]);
  }, 20_000);
});
