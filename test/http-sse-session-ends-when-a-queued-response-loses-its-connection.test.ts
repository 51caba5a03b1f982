import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { NEVER } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceMetrics } from '../adapters/http/metrics.ts';
import { SseSession, type CloseReason } from '../adapters/http/sse/session.ts';

/*
 * Found in adversarial review (SER-001): a response queued behind an earlier one on its connection (HTTP/1.1
 * pipelining) has no socket, and Node neither destroys it nor emits its 'close' when the connection closes. A session
 * on such a response watched only the response, so it ran on without a client: slot, subscription, timers. The route
 * now refuses such a stream (test/http-sse-pipelined-streams-hold-no-slot.test.ts); the session watches the
 * request's connection as well, so whatever response it is given, it ends when the connection does.
 */

const noMetrics = new Proxy({}, { get: () => () => undefined }) as ServiceMetrics;
const noLog = new Proxy({}, { get: () => () => undefined }) as FastifyBaseLogger;

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

describe('an event stream session on a response queued behind another', () => {
  it('ends with reason client once the connection closes, as the session on the response that had the socket does', async () => {
    const ended: Promise<CloseReason>[] = [];
    const queued: boolean[] = [];
    const sessionFor = (req: IncomingMessage, res: ServerResponse): void => {
      queued.push(res.socket === null);
      const session = new SseSession({
        res,
        connection: req.socket,
        headers: {},
        requestId: `r-${queued.length}`,
        role: 'integrator',
        remainingMs: () => 600_000,
        onRevoked: () => () => undefined,
        heartbeatMs: 50,
        highWaterBytes: 1_048_576,
        stallMs: 500,
        metrics: noMetrics,
        shutdown: new AbortController().signal,
        log: noLog,
        onClosed: () => undefined,
      });
      ended.push(session.run(NEVER));
    };
    server = createServer(sessionFor);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;

    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const first = once(socket, 'data');
    const get = 'GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
    socket.write(get.repeat(3));
    await first;
    await expect.poll(() => queued.length).toBe(3);
    expect(queued).toEqual([false, true, true]);
    socket.destroy();

    const outcome = await Promise.race([
      Promise.all(ended),
      new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 3_000).unref()),
    ]);
    expect(outcome).toEqual(['client', 'client', 'client']);
  });
});
