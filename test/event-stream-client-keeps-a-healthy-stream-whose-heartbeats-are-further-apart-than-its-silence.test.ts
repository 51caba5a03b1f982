import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscribeEvents, type SseFrame } from '../adapters/client/sse.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 358, finding 1: the client took a stream silent for silenceMs (default 60 s) for lost, while a server may be
 * configured with heartbeats up to an hour apart. With heartbeats 90 s apart a healthy stream was dropped every minute,
 * each drop a failure that only an event reset: the waits grew to a minute, and with maxReconnects a healthy stream
 * ended. The server now announces its heartbeat interval in the stream's opening (`: heartbeat-ms N`), the client
 * allows a connection four of them at least, and a connection silenced after it heard the server (a heartbeat, an
 * event) is not counted as a failure: only one silent from its opening is.
 */

let svc: TestService;
const HEARTBEAT_MS = 600;
beforeAll(async () => {
  svc = await startTestService({ config: { limits: { sseHeartbeatMs: HEARTBEAT_MS } } });
});
afterAll(async () => {
  await svc.close();
});

describe('a healthy stream whose heartbeats are further apart than the client’s silenceMs', () => {
  it('is announced in the opening and never reconnected', async () => {
    const stop = new AbortController();
    const frames: SseFrame[] = [];
    const silences: string[] = [];
    const reconnects: number[] = [];
    const consuming = (async () => {
      for await (const _event of subscribeEvents(svc.url, {
        path: '/v1/events?from=end',
        token: svc.tokens.auditor,
        signal: stop.signal,
        silenceMs: 300,
        onFrame: (frame) => frames.push(frame),
        onSilent: (id) => silences.push(id),
        onReconnect: (_id, delayMs) => reconnects.push(delayMs),
      })) {
        // No event is appended: only the opening and heartbeats come.
      }
    })();
    // Four heartbeats' time, each gap twice the silence the client asked for.
    await new Promise((resolve) => setTimeout(resolve, 4 * HEARTBEAT_MS + 200));
    stop.abort();
    await consuming;
    expect(silences).toEqual([]);
    expect(reconnects).toEqual([]);
    const comments = frames.flatMap((f) => (f.kind === 'comment' ? [f.text] : []));
    // The announcement comes first, before any heartbeat or event.
    expect(comments[0]).toBe(`heartbeat-ms ${HEARTBEAT_MS}`);
    expect(comments.filter((text) => text === 'heartbeat').length).toBeGreaterThanOrEqual(3);
  }, 15_000);
});

/** A server whose every stream opens, says `retry: 250`, sends `after` a moment later, then nothing, never closing. */
const stallingServer = async (after: string) => {
  let streams = 0;
  const responses: ServerResponse[] = [];
  const server = createHttpServer((_req, res) => {
    streams += 1;
    responses.push(res);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('retry: 250\n\n');
    setTimeout(() => res.write(after), 50);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    streams: () => streams,
    close: async (): Promise<void> => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};

describe('a connection silenced after it heard the server (a flapping proxy in front of a healthy stream)', () => {
  it('is reconnected without counting a failure: no growing wait, and maxReconnects never ends it', async () => {
    const server = await stallingServer(': heartbeat\n\n');
    const stop = new AbortController();
    const delays: number[] = [];
    let ended = false;
    try {
      const consuming = (async () => {
        for await (const _event of subscribeEvents(server.url, {
          path: '/v1/events',
          signal: stop.signal,
          silenceMs: 300,
          maxReconnects: 1,
          random: () => 0,
          onReconnect: (_id, delayMs) => delays.push(delayMs),
        })) {
          // Nothing but heartbeats.
        }
      })().finally(() => (ended = true));
      const end = Date.now() + 10_000;
      while (delays.length < 3 && !ended && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 25));
      expect(ended).toBe(false);
      stop.abort();
      await consuming;
      expect(delays.slice(0, 3)).toEqual([250, 250, 250]);
      expect(server.streams()).toBeGreaterThanOrEqual(3);
    } finally {
      stop.abort();
      await server.close();
    }
  }, 15_000);
});
