import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscribeEvents, type SseEvent } from '../adapters/client/sse.ts';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';
import { createSubscriptions } from './http-sse.fixtures.ts';

/*
 * Review 354, finding 1: once its headers had come, subscribeEvents waited for the stream's next bytes with no limit.
 * A proxy or NAT that stops passing bytes without closing anything left `credence events` (and the demo, the benches)
 * following nothing for ever: no reconnection, no error, 75 s after the last heartbeat. A stream silent for
 * `silenceMs` (heartbeats count: any bytes do) is now taken for a lost connection and made again, resuming with
 * Last-Event-ID, so what was appended meanwhile is received once.
 */

/** The sockets of frozen connections, held open until the proxy closes. */
const held: Socket[] = [];

/** A TCP proxy on 127.0.0.1 whose `freeze()` stops passing bytes on the connections it holds, closing none. */
const tcpProxy = async (upstreamPort: number) => {
  const pairs: { readonly client: Socket; readonly upstream: Socket }[] = [];
  const server = createServer((client) => {
    const upstream = connect(upstreamPort, '127.0.0.1');
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    client.pipe(upstream);
    upstream.pipe(client);
    pairs.push({ client, upstream });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    /** The connections open now pass nothing more either way and stay open; a new connection is passed on. */
    freeze: (): number => {
      const frozen = pairs.splice(0);
      for (const { client, upstream } of frozen) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
        // Kept for close(): held open, as a lost NAT mapping leaves them.
        held.push(client, upstream);
      }
      return frozen.length;
    },
    close: async (): Promise<void> => {
      for (const socket of [...held, ...pairs.flatMap((p) => [p.client, p.upstream])]) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};
const GUARD_MS = 15_000;

const until = async (check: () => boolean, what: string, ms = GUARD_MS): Promise<void> => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`waited ${ms} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
};

let svc: TestService;
beforeAll(async () => {
  // Heartbeats well inside the silence the tests allow: a stream that works is never taken for a silent one.
  svc = await startTestService({ config: { limits: { sseHeartbeatMs: 200 } } });
});
afterAll(async () => {
  await svc.close();
});

const subscriptionIds = async (from: string): Promise<string[]> => {
  const ids: string[] = [];
  for await (const e of svc.service.context.credence.store.readAll({ filter: { streamPrefixes: [`subscription-${from}`] } })) ids.push(e.position.toString());
  return ids;
};

describe('subscribeEvents over a connection that stops passing bytes without closing', () => {
  it('reconnects after silenceMs with Last-Event-ID and receives what was appended meanwhile exactly once', async () => {
    const proxy = await tcpProxy(Number(new URL(svc.url).port));
    const stop = new AbortController();
    const received: SseEvent[] = [];
    const reconnects: { readonly lastEventId: string; readonly delayMs: number }[] = [];
    const silences: string[] = [];
    try {
      await createSubscriptions(svc.service.context.credence.engine, 'quiet-a', 2);
      const consuming = (async () => {
        for await (const event of subscribeEvents(proxy.url, {
          path: '/v1/events?stream=subscription-quiet-a-0&stream=subscription-quiet-a-1&stream=subscription-quiet-a-2&stream=subscription-quiet-a-3&stream=subscription-quiet-a-4',
          token: svc.tokens.auditor,
          signal: stop.signal,
          silenceMs: 1_500,
          retryMs: 250,
          random: () => 0,
          onSilent: (lastEventId) => silences.push(lastEventId),
          onReconnect: (lastEventId, delayMs) => reconnects.push({ lastEventId, delayMs }),
        })) {
          received.push(event);
        }
      })();
      await until(() => received.length >= 2, 'the first 2 events');
      expect(proxy.freeze()).toBe(1);
      await createSubscriptions(svc.service.context.credence.engine, 'quiet-a', 3, 2);
      await until(() => received.length >= 5, 'the 3 events appended while the connection was silent');
      // Longer than a silence and a heartbeat: no event comes twice, no further reconnection follows a working stream.
      await new Promise((resolve) => setTimeout(resolve, 1_800));
      stop.abort();
      await consuming;

      expect(received.map((e) => e.id.split('~')[0])).toEqual(await subscriptionIds('quiet-a-'));
      expect(received.map((e) => JSON.parse(e.data).streamId)).toEqual([0, 1, 2, 3, 4].map((i) => `subscription-quiet-a-${i}`));
      expect(silences).toEqual([received[1]!.id]);
      expect(reconnects.map((r) => r.lastEventId)).toEqual([received[1]!.id]);
      // The server's `retry:` (RETRY_MS.initial, 1 s) after its events, as after any lost connection.
      expect(reconnects[0]!.delayMs).toBe(1_000);
    } finally {
      stop.abort();
      await proxy.close();
    }
  }, 30_000);

  it('counts each connection silent from its opening as a failure: the waits back off, never a tight loop', async () => {
    // Each connection opens, says `retry: 250` and its heartbeat interval, then nothing, and is never closed by the
    // server: not even one heartbeat comes (review 358: a connection that heard a heartbeat or an event is no failure).
    let streams = 0;
    let open = 0;
    const silent = createHttpServer((_req, res) => {
      streams += 1;
      open += 1;
      res.on('close', () => (open -= 1));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('retry: 250\n\n: heartbeat-ms 50\n\n');
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const delays: number[] = [];
    try {
      const started = Date.now();
      const events: SseEvent[] = [];
      for await (const event of subscribeEvents(`http://127.0.0.1:${(silent.address() as { port: number }).port}`, {
        path: '/v1/events',
        silenceMs: 300,
        maxReconnects: 3,
        random: () => 0,
        onReconnect: (_id, delayMs) => delays.push(delayMs),
      })) {
        events.push(event);
      }
      expect(events).toEqual([]);
      expect(delays).toEqual([250, 500, 1_000]);
      // Four silences and three waits at least: each connection was held for its silence.
      expect(Date.now() - started).toBeGreaterThanOrEqual(4 * 300 + 1_750 - 50);
      expect(streams).toBe(4);
      // Each silent connection was closed by the client, none left open behind the next.
      await until(() => open === 0, 'the silent streams closed', 2_000);
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  }, 15_000);

  it('an onSilent that throws ends the subscription with its error, its silent connection closed (review 358)', async () => {
    // Called from the timer before the abort, a throwing onSilent was an uncaught error and the connection was never
    // closed: the subscription hung on it for good.
    let open = 0;
    const silent = createHttpServer((_req, res) => {
      open += 1;
      res.on('close', () => (open -= 1));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('retry: 250\n\n');
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const events = subscribeEvents(`http://127.0.0.1:${(silent.address() as { port: number }).port}`, {
        path: '/v1/events',
        silenceMs: 300,
        onSilent: () => {
          throw new Error('the caller failed');
        },
      });
      const outcome = await Promise.race([events.next().then(() => 'yielded', (error: unknown) => error), new Promise((resolve) => setTimeout(() => resolve('still waiting'), 5_000))]);
      expect(outcome).toBeInstanceOf(Error);
      expect((outcome as Error).message).toBe('the caller failed');
      await until(() => open === 0, 'the silent stream closed', 2_000);
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  }, 15_000);

  it('refuses a silenceMs that is no whole number of milliseconds from 1 to 2^31 - 1', async () => {
    for (const silenceMs of [0, 1.5, 2 ** 31, Number.NaN]) {
      const events = subscribeEvents(svc.url, { path: '/v1/events', token: svc.tokens.auditor, silenceMs });
      await expect(events.next()).rejects.toThrow(/silenceMs: must be a whole number of milliseconds from 1 to 2\^31 - 1/);
    }
  });
});

describe('credence events --silence-seconds', () => {
  it('reconnects a stream silent that long, says so on stderr, and prints what came meanwhile once', async () => {
    const proxy = await tcpProxy(Number(new URL(svc.url).port));
    try {
      await createSubscriptions(svc.service.context.credence.engine, 'quiet-b', 1);
      const c = capture();
      const streams = [0, 1, 2].flatMap((i) => ['--stream', `subscription-quiet-b-${i}`]);
      const done = main(['events', '--server', proxy.url, '--token', svc.tokens.auditor, ...streams, '--limit', '3', '--silence-seconds', '1.5'], { ...c.io, env: {} });
      await until(() => c.out.length >= 1, 'the first event printed');
      expect(proxy.freeze()).toBe(1);
      await createSubscriptions(svc.service.context.credence.engine, 'quiet-b', 2, 1);
      const code = await Promise.race([done, new Promise<string>((resolve) => setTimeout(() => resolve('still following'), GUARD_MS))]);
      expect(code, c.err.join('\n')).toBe(0);
      expect(c.out.map((line) => line.split(' ').at(-1))).toEqual([0, 1, 2].map((i) => `subscription-quiet-b-${i}`));
      const firstId = /^@(\S+) /.exec(c.out[0]!)?.[1];
      expect(c.err.join('\n')).toContain('note: no word from the server for 1.5 s, not even a heartbeat: the connection is taken for lost');
      expect(c.err.join('\n')).toMatch(new RegExp(`note: reconnecting in \\d+\\.\\d s, resuming after @${firstId}`));
    } finally {
      await proxy.close();
    }
  }, 30_000);

  it.each([['0'], ['0.5'], ['86401'], ['abc'], ['1e3']])('refuses --silence-seconds %s before connecting (exit 2)', async (value) => {
    const c = capture();
    const code = await main(['events', '--server', svc.url, '--token', svc.tokens.auditor, '--silence-seconds', value], { ...c.io, env: {} });
    expect(code).toBe(2);
    expect(c.err.join('\n')).toMatch(/--silence-seconds: must be a number of seconds from 1 to 86400/);
  });
});
