import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { UnexpectedResponse } from '../adapters/client/http.ts';
import { MAX_RECONNECT_MS, MIN_RECONNECT_MS, reconnectDelay, subscribeEvents, type SseEvent } from '../adapters/client/sse.ts';

/*
 * Found in review, adapters/client/sse.ts: `retry: 0` was waited as 0 ms, and a `retry:` or Retry-After past 2^31 - 1
 * ms fired after 1 ms in Node; with no limit on reconnections and the count reset only by an event, a server (or
 * anything in front of it) could make a subscriber connect hundreds of times a second. An `id:` that is not Latin-1
 * made every reconnection throw in fetch, taken for an unreachable server and retried for ever without reaching it;
 * a redirect was followed to any host, the bearer token with it. Now every wait lies within [MIN_RECONNECT_MS,
 * MAX_RECONNECT_MS] and doubles while no event arrives, only event positions are sent back, a request that cannot be
 * built is thrown, and a redirect is an UnexpectedResponse.
 */

interface Stand {
  readonly url: string;
  /** The Last-Event-ID of each request, in order (undefined when none was sent). */
  readonly requests: (string | undefined)[];
  close(): Promise<void>;
}

/** A stand-in server on 127.0.0.1 that answers the n-th request (from 0) as `answer` says. */
const stand = async (answer: (n: number, req: IncomingMessage, res: ServerResponse) => void): Promise<Stand> => {
  const requests: (string | undefined)[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.headers['last-event-id'] as string | undefined);
    answer(requests.length - 1, req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};
/**
 * A stream that ends once `body` is sent, its connection closed with it: each reconnection then opens a connection of
 * its own, never the kept-alive one the stand-in may be closing on a loaded machine (a reset CI saw once).
 */
const stream = (res: ServerResponse, body: string): void => void res.writeHead(200, { 'content-type': 'text/event-stream', connection: 'close' }).end(body);

const open: Stand[] = [];
const serve = async (answer: Parameters<typeof stand>[0]): Promise<Stand> => {
  const s = await stand(answer);
  open.push(s);
  return s;
};
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

/** Follows the stream for `ms` (or until it ends), noting each event and each reconnection's wait. */
const follow = async (url: string, ms: number, options: Partial<Parameters<typeof subscribeEvents>[1]> = {}) => {
  const events: SseEvent[] = [];
  const waits: number[] = [];
  const signal = AbortSignal.timeout(ms);
  let error: unknown;
  try {
    for await (const event of subscribeEvents(url, { path: '/v1/events', signal, onReconnect: (_id, delayMs) => void waits.push(delayMs), ...options })) events.push(event);
  } catch (e) {
    error = e;
  }
  return { events, waits, error };
};

describe('the event stream client waits within bounds', () => {
  it.each([
    ['retry: 0', 'retry: 0\n\n'],
    ['a retry: past 2^31 - 1 ms', `retry: ${2 ** 31 + 5}\n\n`],
    ['a retry: of 400 digits', `retry: ${'9'.repeat(400)}\n\n`],
  ])('after %s, never a busy loop', async (_what, body) => {
    const server = await serve((_n, _req, res) => stream(res, body));
    const { waits } = await follow(server.url, 600);
    // Before the fix: hundreds of connections in these 600 ms.
    expect(server.requests.length).toBeLessThanOrEqual(3);
    expect(waits.length).toBeGreaterThan(0);
    for (const ms of waits) expect(ms >= MIN_RECONNECT_MS && ms <= MAX_RECONNECT_MS, `${ms} ms`).toBe(true);
  });

  it('waits at most MAX_RECONNECT_MS whatever Retry-After asks, and at least what it asks below that', async () => {
    for (const [seconds, expected] of [
      ['3000000', MAX_RECONNECT_MS],
      [String(10 ** 12), MAX_RECONNECT_MS],
      ['5', 5_000],
    ] as const) {
      const server = await serve((_n, _req, res) => void res.writeHead(503, { 'content-type': 'application/problem+json', 'retry-after': seconds }).end('{"title":"Service Unavailable","status":503}'));
      const { waits } = await follow(server.url, 300, { random: () => 0 });
      expect(server.requests, seconds).toHaveLength(1);
      expect(waits, seconds).toEqual([expected]);
    }
  });

  it('doubles the wait while no event arrives, and starts again from the server’s retry: after one', async () => {
    // Three streams in a row without an event, then one with an event, then none again.
    const server = await serve((n, _req, res) => stream(res, n === 3 ? 'retry: 250\nid: 7\nevent: NodeRegistered\ndata: {}\n\n' : 'retry: 250\n\n'));
    const { waits, events, error } = await follow(server.url, 10_000, { random: () => 0, maxReconnects: 3 });
    expect(error).toBeUndefined();
    expect(events.map((e) => e.id)).toEqual(['7']);
    // Three in a row without an event is maxReconnects: the subscription ends there.
    expect(waits).toEqual([250, 500, 1_000, 250, 500, 1_000]);
    expect(server.requests).toEqual([undefined, undefined, undefined, undefined, '7', '7', '7']);
  });

  it.each([
    [1_000, 1, 0, 1_000],
    [1_000, 2, 0, 2_000],
    [1_000, 3, 0.5, 5_000],
    [1_000, 7, 0, MAX_RECONNECT_MS],
    [1_000, 1_000, 0.999, MAX_RECONNECT_MS],
    [0, 1, 0, MIN_RECONNECT_MS],
    [2 ** 40, 1, 0, MAX_RECONNECT_MS],
    [Number.NaN, 1, 0, MIN_RECONNECT_MS],
  ])('reconnectDelay(%d ms, failure %d, random %d) is %d ms', (base, failures, random, expected) => {
    expect(reconnectDelay(base, failures, () => random)).toBe(expected);
  });

  it('spreads the waits of subscribers dropped together by up to half again, never below the server’s retry:', () => {
    const waits = Array.from({ length: 200 }, () => reconnectDelay(2_000, 1));
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(2_000);
    expect(Math.max(...waits)).toBeLessThanOrEqual(3_000);
    expect(new Set(waits).size).toBeGreaterThan(1);
  });
});

describe('the event stream client resumes only from event positions', () => {
  it('ignores an id that is not a position, sends back the last that is, and reaches the server again', async () => {
    const server = await serve((n, _req, res) =>
      stream(res, n === 0 ? 'retry: 250\nid: 41\nevent: NodeRegistered\ndata: {}\n\nid: 4€2\nevent: NodeRevoked\ndata: {}\n\nid: 00041\n\n' : `retry: 250\nid: ${'9'.repeat(40)}\n\n`),
    );
    const { events, error } = await follow(server.url, 1_000);
    expect(error).toBeUndefined();
    // Before the fix: one request, then TypeErrors in fetch taken for an unreachable server.
    expect(server.requests.length).toBeGreaterThanOrEqual(2);
    const [first, ...resumed] = server.requests;
    expect(first).toBeUndefined();
    // Neither `4€2` nor the 40 digits of the later streams (past any position), nor `00041` (not canonical).
    expect(resumed).toEqual(resumed.map(() => '41'));
    expect(events.map((e) => [e.event, e.id])).toEqual([
      ['NodeRegistered', '41'],
      ['NodeRevoked', ''],
    ]);
  });

  it('refuses a lastEventId that is not a position, naming it, before any request', async () => {
    const server = await serve((_n, _req, res) => stream(res, 'retry: 250\n\n'));
    const { error } = await follow(server.url, 1_000, { lastEventId: '4€2' });
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(/^lastEventId: /);
    expect(server.requests).toEqual([]);
  });

  it('throws a request fetch cannot build, instead of retrying it as an unreachable server', async () => {
    const server = await serve((_n, _req, res) => stream(res, 'retry: 250\n\n'));
    const { error, waits } = await follow(server.url, 5_000, { token: 'tøken€' });
    // Thrown, not waited out: retried as an unreachable server, it would have told onReconnect of a wait and ended
    // without an error when the 5 s of `follow` ran out.
    expect(error).toBeInstanceOf(TypeError);
    expect(waits).toEqual([]);
    expect(server.requests).toEqual([]);
  });
});

describe('the event stream client and redirects', () => {
  it.each([301, 302, 303, 307, 308])('does not follow a %d: an UnexpectedResponse naming the status, nothing sent to the Location', async (status) => {
    const elsewhere = await serve((_n, _req, res) => stream(res, 'id: 1\nevent: NodeRegistered\ndata: {}\n\n'));
    const server = await serve((_n, _req, res) => void res.writeHead(status, { location: `http://user:secret@127.0.0.1:${new URL(elsewhere.url).port}/v1/events` }).end());
    const { error, events } = await follow(server.url, 2_000, { token: 'a.b.c' });
    expect(error).toBeInstanceOf(UnexpectedResponse);
    expect((error as Error).message).toContain(String(status));
    expect((error as Error).message).not.toContain('secret');
    expect(events).toEqual([]);
    expect(elsewhere.requests).toEqual([]);
    expect(server.requests).toHaveLength(1);
  });
});

describe('the event stream client and a stream ended before an event a newer version wrote', () => {
  it('hands onDropped the reason, the position and the server words (review 86), and nothing of another reason', async () => {
    const frame = { reason: 'newer_event', position: '2', retryMs: 300000, message: 'upgrade the server to read the event at position 2' };
    const server = await serve((_n, _req, res) => stream(res, `id: 1\nevent: NodeRegistered\ndata: {}\n\nevent: dropped\ndata: ${JSON.stringify(frame)}\n\n`));
    const dropped: unknown[] = [];
    await follow(server.url, 400, { onDropped: (d) => void dropped.push(d) });
    expect(dropped[0]).toEqual({ reason: 'newer_event', lastEventId: '1', retryMs: 300000, position: '2', message: frame.message });

    const slow = await serve((_n, _req, res) => stream(res, `event: dropped\ndata: ${JSON.stringify({ ...frame, reason: 'slow' })}\n\n`));
    const others: unknown[] = [];
    await follow(slow.url, 300, { onDropped: (d) => void others.push(d) });
    expect(others[0]).toEqual({ reason: 'slow', lastEventId: '', retryMs: 300000 });
  });
});
