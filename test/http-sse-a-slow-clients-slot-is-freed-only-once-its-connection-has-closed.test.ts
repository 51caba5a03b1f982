import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';
import { appendRegisteredNodes, openStream, settled } from './http-sse.fixtures.ts';
import { within } from './support/sse-session-on-a-socket.ts';

/*
 * Review 120, finding 2: a stream dropped as slow freed its slot at once, while its connection kept what the client
 * had not read (the high-water mark's worth and the drop frames) for one more stall period. The client could open a
 * second stream at once and fill a second queue beside the first: with one stream a principal, 256 KiB marks and a
 * client that never reads, 529,066 bytes were queued, twice the bound docs/service.md gives. The slot (and the
 * service-wide place) is now freed only once the connection has closed.
 */

const MARK = 65_536;
// The one event that passed the mark (about 4.5 kB with its chunk framing) and the final frames.
const BOUND = MARK + 8_192;
// Long enough that the request made just after the drop meets the dropped connection still open.
const STALL_MS = 3_000;
// About 6.8 MB in all: more than the loopback socket buffers of both ends and the mark together take.
const NODES = 1_500;
const CAPABILITIES = Array.from({ length: 64 }, (_, i) => `capability-${String(i).padStart(2, '0')}-${'x'.repeat(48)}`);

let svc: TestService;
let port: number;
beforeAll(async () => {
  svc = await startTestService({
    config: {
      limits: {
        maxSseStreamsPerPrincipal: 1,
        sseHighWaterBytes: MARK,
        sseStallMs: STALL_MS,
        sseHeartbeatMs: 60_000,
        connectionTimeoutMs: 120_000,
        maxEventLoopDelayMs: 0,
      },
    },
  });
  port = Number(new URL(svc.url).port);
  await appendRegisteredNodes(svc.service.context.credence.store, 'slot', NODES, CAPABILITIES);
  await settled(svc);
}, 120_000);
afterAll(async () => {
  await svc?.close();
});


/** A raw client that reads the status line and then nothing more: its socket stops being read once Node's buffer fills. */
const neverReading = async (token: string): Promise<{ readonly client: Socket; readonly status: number; readonly head: string }> => {
  const client = connect(port, '127.0.0.1');
  await once(client, 'connect');
  // The server cuts a connection with unread data: a reset here, which is the point.
  client.on('error', () => undefined);
  client.write(`GET /v1/events?type=NodeRegistered HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nAccept: text/event-stream\r\n\r\n`);
  const [first] = (await within(once(client, 'data'), 'the response head')) as [Buffer];
  client.pause();
  const head = first.toString('latin1');
  return { client, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), head };
};

describe('an event stream dropped as slow', () => {
  it('holds its slot until its connection has closed, so the server never queues more than one mark for it', async () => {
    const server = svc.service.app.server;
    const { metrics } = svc.service.context;
    const drops: Array<() => void> = [];
    const count = metrics.sseClientClosed.bind(metrics);
    (metrics as { sseClientClosed: typeof metrics.sseClientClosed }).sseClientClosed = (role, reason) => {
      if (role === 'auditor' && reason === 'slow') drops.shift()?.();
      count(role, reason);
    };
    const dropped = (): Promise<void> => new Promise<void>((resolve) => drops.push(resolve));
    // Every connection the server holds, and the most queued on all of them together at any one time.
    const sockets = new Set<Socket>();
    const onConnection = (socket: Socket): void => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    };
    server.on('connection', onConnection);
    let queuedMax = 0;
    const sample = (): void => {
      let total = 0;
      for (const socket of sockets) total += socket.writableLength;
      queuedMax = Math.max(queuedMax, total);
    };
    const sampler = setInterval(sample, 1);
    const clients: Socket[] = [];
    try {
      const firstDropped = dropped();
      const first = await neverReading(svc.tokens.auditor);
      clients.push(first.client);
      expect(first.status).toBe(200);
      const [firstSide] = [...sockets];
      const firstClosed = new Promise<void>((resolve) => firstSide!.once('close', () => resolve()));
      await within(firstDropped, 'the first stream to be dropped as slow');

      // Dropped, but its connection still holds its queue: the principal's one slot is still taken.
      expect(firstSide!.destroyed).toBe(false);
      const refused = await neverReading(svc.tokens.auditor);
      clients.push(refused.client);
      expect(refused.status).toBe(429);
      expect(refused.head).toContain('too_many_streams');

      // Once the server has cut it, the slot is free again.
      await within(firstClosed, 'the server to cut the dropped connection');
      const secondDropped = dropped();
      const second = await neverReading(svc.tokens.auditor);
      clients.push(second.client);
      expect(second.status).toBe(200);
      await within(secondDropped, 'the second stream to be dropped as slow');
      sample();
    } finally {
      clearInterval(sampler);
      server.off('connection', onConnection);
      for (const client of clients) client.destroy();
      // The next test starts with the slot free.
      // (Not `once`: a reset, from a client destroyed with unread data, would reject it.)
      const closing = [...sockets].map((socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())));
      await within(Promise.all(closing), 'the server to close every connection');
    }
    // Both streams reached the mark, one after the other, never side by side.
    expect(queuedMax).toBeGreaterThan(MARK);
    expect(queuedMax).toBeLessThanOrEqual(BOUND);
  }, 90_000);

  it('that reads its way to the end within the grace period reconnects at once', async () => {
    const { metrics } = svc.service.context;
    let droppedSlow: () => void = () => undefined;
    const slowDropped = new Promise<void>((resolve) => (droppedSlow = resolve));
    const count = metrics.sseClientClosed.bind(metrics);
    (metrics as { sseClientClosed: typeof metrics.sseClientClosed }).sseClientClosed = (role, reason) => {
      if (role === 'auditor' && reason === 'slow') droppedSlow();
      count(role, reason);
    };
    const { client, status } = await neverReading(svc.tokens.auditor);
    try {
      expect(status).toBe(200);
      await within(slowDropped, 'the stream to be dropped as slow');
      // It catches up: reads what was queued, the drop frames and the end of the response.
      let text = '';
      client.setEncoding('utf8');
      client.on('data', (chunk: string) => (text += chunk));
      client.resume();
      await within(once(client, 'end'), 'the end of the dropped stream');
      expect(text).toContain('event: dropped');
      const last = [...text.matchAll(/^id: (\d+(?:~[0-9a-f]{8})?)$/gm)].at(-1)?.[1];
      expect(last).toBeDefined();

      // The server closed its end as soon as the client had it all: the slot is free for the reconnection.
      const resumed = await openStream(svc.url, svc.tokens.auditor, '/v1/events?type=NodeRegistered', { 'last-event-id': last! });
      try {
        expect(resumed.problem).toBeUndefined();
        expect(resumed.status).toBe(200);
      } finally {
        resumed.close();
      }
    } finally {
      client.destroy();
    }
  }, 90_000);
});
