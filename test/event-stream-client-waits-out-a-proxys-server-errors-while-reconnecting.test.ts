import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ProblemResponse } from '../adapters/client/http.ts';
import { subscribeEvents, type SseEvent } from '../adapters/client/sse.ts';

/*
 * Review 206 finding 1: while reconnecting, adapters/client/sse.ts waited out a 429 or a 503 only. Behind a reverse
 * proxy a server restart is answered 502 (or 504, or a 500 page), which was thrown as a refusal: the subscription, and
 * `credence events`, ended for good, though the module says a stream survives a server restart. Now a reconnection
 * waits out what the console waits out (transientStatus: 408, 429 and every 5xx but 501 and 505), honouring
 * Retry-After; a refusal (4xx, 501, 505) still ends the subscription.
 */

interface Stand {
  readonly url: string;
  /** The Last-Event-ID of each request, in order (undefined when none was sent). */
  readonly requests: (string | undefined)[];
  close(): Promise<void>;
}

const open: Stand[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

/** A stand-in proxy on 127.0.0.1 that answers the n-th request (from 0) as `answer` says. */
const serve = async (answer: (n: number, res: ServerResponse, req: IncomingMessage) => void): Promise<Stand> => {
  const requests: (string | undefined)[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.headers['last-event-id'] as string | undefined);
    answer(requests.length - 1, res, req);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const stand: Stand = {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  open.push(stand);
  return stand;
};

const stream = (res: ServerResponse, body: string): void => void res.writeHead(200, { 'content-type': 'text/event-stream' }).end(body);
const page = (res: ServerResponse, status: number, headers: Record<string, string> = {}): void =>
  void res.writeHead(status, { 'content-type': 'text/html', ...headers }).end(`<html><body>${status}</body></html>`);

const FIRST = 'retry: 250\nid: 1~0000000a\nevent: NodeRegistered\ndata: {}\n\n';
const SECOND = 'retry: 250\nid: 2~0000000b\nevent: NodeEnrolled\ndata: {}\n\n';

/** Follows the stream until `count` events arrived, `ms` passed or it ended. */
const follow = async (url: string, count: number, ms: number, options: Partial<Parameters<typeof subscribeEvents>[1]> = {}) => {
  const events: SseEvent[] = [];
  const waits: number[] = [];
  let error: unknown;
  try {
    for await (const event of subscribeEvents(url, { path: '/v1/events', signal: AbortSignal.timeout(ms), random: () => 0, onReconnect: (_id, w) => void waits.push(w), ...options })) {
      events.push(event);
      if (events.length >= count) break;
    }
  } catch (e) {
    error = e;
  }
  return { events, waits, error };
};

describe('the event stream client behind a proxy, while the server restarts', () => {
  it.each([500, 502, 504, 408, 429, 503])('waits out a %d and resumes after the last event', async (status) => {
    const server = await serve((n, res) => (n === 0 ? stream(res, FIRST) : n === 1 ? page(res, status) : stream(res, SECOND)));
    const { events, error } = await follow(server.url, 2, 10_000);
    expect(error).toBeUndefined();
    expect(events.map((e) => e.id)).toEqual(['1~0000000a', '2~0000000b']);
    expect(server.requests).toEqual([undefined, '1~0000000a', '1~0000000a']);
  });

  it('keeps waiting while a proxy answers 502 and 504 in a row, and honours its Retry-After', async () => {
    const server = await serve((n, res) =>
      n === 0 ? stream(res, FIRST) : n === 1 ? page(res, 502) : n === 2 ? page(res, 504, { 'retry-after': '1' }) : stream(res, SECOND),
    );
    const { events, waits, error } = await follow(server.url, 2, 10_000);
    expect(error).toBeUndefined();
    expect(events.map((e) => e.id)).toEqual(['1~0000000a', '2~0000000b']);
    // After the stream's end, its retry: (250 ms); after the 502, the backoff (500 ms); after the 504, its Retry-After.
    expect(waits).toEqual([250, 500, 1_000]);
  });

  it('waits out a 502 on the very first connection too, unless told to give up before a stream opens', async () => {
    const server = await serve((n, res) => (n === 0 ? page(res, 502) : stream(res, FIRST)));
    const waited = await follow(server.url, 1, 10_000);
    expect(waited.error).toBeUndefined();
    expect(waited.events.map((e) => e.id)).toEqual(['1~0000000a']);

    const at = await serve((_n, res) => page(res, 502));
    const given = await follow(at.url, 1, 10_000, { maxReconnectsBeforeOpen: 0 });
    expect(given.error).toBeInstanceOf(ProblemResponse);
    expect((given.error as ProblemResponse).status).toBe(502);
    expect(at.requests).toHaveLength(1);
  });

  it.each([501, 505, 404, 409])('ends on a %d, which no retry changes, naming it', async (status) => {
    const server = await serve((n, res) => (n === 0 ? stream(res, FIRST) : page(res, status)));
    const { events, error } = await follow(server.url, 2, 10_000);
    expect(events.map((e) => e.id)).toEqual(['1~0000000a']);
    expect(error).toBeInstanceOf(ProblemResponse);
    expect((error as ProblemResponse).status).toBe(status);
    expect(server.requests).toHaveLength(2);
  });
});
