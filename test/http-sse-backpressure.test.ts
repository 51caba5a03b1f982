import { get, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEventStream, type SseFrame } from '../adapters/client/sse.ts';
import { startTestService, type TestService } from './support/service.ts';
import { appendRegisteredNodes, openStream, ops, settled } from './http-sse.fixtures.ts';
import { within } from './support/sse-session-on-a-socket.ts';

// Issue 12: "back-pressure without unbounded buffering (a slow client is paused or dropped with a retry hint,
// never buffered without limit)". A client that stops reading while a backlog of megabytes waits is paused, then
// dropped after the stall limit; what the server queues for it stays bounded meanwhile; a fast client on the same
// events is not held back; the dropped client resumes with Last-Event-ID and misses nothing.

const HIGH_WATER = 4_096;
// Long enough that the fast client, served by the same busy process, is never taken for a slow one.
const STALL_MS = 1_500;
const NODES = 1_200;
// About 4.5 kB per event, about 5.4 MB in all: more than the loopback socket buffers of both ends together take
// (about 4 MB here: the send buffer grows up to net.ipv4.tcp_wmem's maximum).
const CAPABILITIES = Array.from({ length: 64 }, (_, i) => `capability-${String(i).padStart(2, '0')}-${'x'.repeat(48)}`);

let svc: TestService;
let positions: string[];
beforeAll(async () => {
  // Load shedding is not what this test is about.
  svc = await startTestService({
    config: { limits: { sseHighWaterBytes: HIGH_WATER, sseStallMs: STALL_MS, sseHeartbeatMs: 60_000, connectionTimeoutMs: 120_000, maxEventLoopDelayMs: 0 } },
  });
  positions = await appendRegisteredNodes(svc.service.context.credence.store, 'bulk', NODES, CAPABILITIES);
  // The live pseudonym rotation reacts to each registration: let it finish, so the streams below run on a quiet server.
  await settled(svc);
}, 120_000);
afterAll(async () => {
  await svc?.close();
});


describe('a slow SSE client', () => {
  it('is dropped with a retry hint while a fast one keeps receiving, and the server queues a bounded amount for it', async () => {
    const server = svc.service.app.server;
    const { metrics } = svc.service.context;
    // The moment the server drops the slow client (the auditor), seen from inside: the test then reads again at once.
    let droppedSlow: () => void = () => undefined;
    const slowDropped = new Promise<void>((resolve) => (droppedSlow = resolve));
    const count = metrics.sseClientClosed.bind(metrics);
    (metrics as { sseClientClosed: typeof metrics.sseClientClosed }).sseClientClosed = (role, reason) => {
      if (role === 'auditor' && reason === 'slow') droppedSlow();
      count(role, reason);
    };
    // The server's end of the slow client's connection, to watch what is queued on it.
    const serverSide = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const url = new URL('/v1/events?type=NodeRegistered', svc.url);
    const slowResponse = await within(
      new Promise<IncomingMessage>((resolve, reject) => {
        const request = get(url, { headers: { authorization: `Bearer ${svc.tokens.auditor}`, accept: 'text/event-stream' } }, resolve);
        request.on('error', reject);
      }),
      'the slow client response',
    );
    expect(slowResponse.statusCode).toBe(200);
    // The slow client reads nothing more: Node's HTTP client stops reading the socket once its buffer is full.
    slowResponse.pause();
    const socket = await serverSide;
    let queuedMax = 0;
    const sampler = setInterval(() => (queuedMax = Math.max(queuedMax, socket.writableLength)), 2);
    const serverClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));

    const fast = await openStream(svc.url, svc.tokens.operator, '/v1/events?type=NodeRegistered');
    const frames: SseFrame[] = [];
    try {
      await within(slowDropped, 'the server to drop the slow client');
      clearInterval(sampler);
      // Bounded: the configured mark, Node's own socket buffer, one event and the final frames; never the backlog.
      expect(queuedMax).toBeLessThan(64 * 1024);

      // The server ends the response after its final frames and cuts the connection only after a grace period (the
      // stall limit): a client that reads again within it gets what was queued, then the drop and the retry hint.
      await within(
        (async () => {
          for await (const frame of parseEventStream(slowResponse)) frames.push(frame);
        })(),
        'the slow client to read to the end of its stream',
      );
      await within(serverClosed, 'the server to close the slow connection');

      const scraped = await (await fetch(new URL('/metrics', svc.url))).text();
      expect(scraped).toMatch(/credence_sse_closed_total\{role="auditor",reason="slow"\} 1/);
      expect(scraped).not.toMatch(/credence_sse_closed_total\{role="operator",reason="slow"\}/);

      // The fast client gets the whole backlog, and what comes after the drop.
      await fast.until(() => fast.events().length >= NODES, 'the backlog on the fast client');
      const later = await svc.service.context.credence.engine.execute(ops.registerNode('after-the-drop'));
      const laterPosition = later.events[0]!.position.toString();
      await fast.until(() => fast.events().some((e) => e.id.split('~')[0] === laterPosition), 'an event after the drop');
      expect(fast.events().map((e) => e.id.split('~')[0])).toEqual([...positions, laterPosition]);
      positions.push(laterPosition);
    } finally {
      clearInterval(sampler);
      fast.close();
    }

    // What the slow client read: a strict prefix of the stream, then `event: dropped` and a retry hint, and nothing else.
    const slowIds = frames.flatMap((f) => (f.kind === 'event' && f.event === 'NodeRegistered' ? [f.id.split('~')[0]!] : []));
    expect(slowIds.length).toBeGreaterThan(0);
    expect(slowIds.length).toBeLessThan(NODES);
    expect(slowIds).toEqual(positions.slice(0, slowIds.length));
    const dropped = frames.findIndex((f) => f.kind === 'event' && f.event === 'dropped');
    expect(dropped, 'the drop event').toBeGreaterThan(-1);
    const drop = frames[dropped] as SseFrame & { kind: 'event' };
    // It sends no id of its own: the client's last event id stays on the last event it really received.
    expect(drop.id.split('~')[0]).toBe(slowIds.at(-1));
    const { reason, retryMs } = JSON.parse(drop.data) as { reason: string; retryMs: number };
    expect(reason).toBe('slow');
    expect(retryMs).toBeGreaterThan(0);
    expect(frames.slice(dropped + 1)).toEqual([{ kind: 'retry', ms: retryMs }]);

    // Resuming with Last-Event-ID gets everything else: with what it read, the whole stream, no gap, no duplicate.
    const resumed = await openStream(svc.url, svc.tokens.auditor, '/v1/events?type=NodeRegistered', { 'last-event-id': drop.id });
    try {
      const rest = positions.slice(slowIds.length);
      await resumed.until(() => resumed.events().length >= rest.length, 'the rest after resuming');
      expect([...slowIds, ...resumed.events().map((e) => e.id.split('~')[0])]).toEqual(positions);
    } finally {
      resumed.close();
    }
  }, 90_000);
});
