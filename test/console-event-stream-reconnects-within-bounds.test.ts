import { afterEach, describe, expect, it, vi } from 'vitest';

/** The console's StreamStatus (adapters/console/src/sse.ts), as far as these tests read it. */
type StreamStatus = { readonly state: string; readonly inMs?: number; readonly why?: string };

// Loaded at run time: these sources are type-checked by the console's own project (DOM lib, whose RequestInit knows
// `cache`), not by this Node one.
const consoleSource = (file: string): string => new URL(`../adapters/console/src/${file}`, import.meta.url).href;
const { Api } = (await import(consoleSource('api.ts'))) as {
  Api: new (token: string) => { onUnauthenticated(listener: (error: { status: number }) => void): () => void };
};
const { followEvents } = (await import(consoleSource('sse.ts'))) as {
  followEvents: (api: unknown, options: { onEvent: () => void; onStatus: (s: StreamStatus) => void; signal: AbortSignal }) => void;
};
type Api = InstanceType<typeof Api>;

/*
 * Found in review, the console's event-stream client: an HTTP-date Retry-After (NaN) or a `retry: 0` frame made it
 * reconnect in a tight loop (over 300 attempts in half a second); a Retry-After of a day was kept for every later
 * reconnect; a line without an end was buffered without bound, and rescanned at every chunk; and a stream the server
 * ended for a revoked token left the token in the session. Now every wait is between 1 s and 60 s, a line or frame
 * is bounded, and an `unauthorised` drop signs the user out as a 401 does.
 */
const sse = (body: ReadableStream<Uint8Array> | string): Response => new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
afterEach(() => vi.unstubAllGlobals());

const follow = (api: Api) => {
  const abort = new AbortController();
  const statuses: StreamStatus[] = [];
  followEvents(api, { onEvent: () => undefined, onStatus: (s) => statuses.push(s), signal: abort.signal });
  return { statuses, stop: () => abort.abort() };
};
const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the console event-stream client', () => {
  it.each([
    ['an HTTP-date Retry-After', () => new Response('{"status":503}', { status: 503, headers: { 'content-type': 'application/problem+json', 'retry-after': 'Wed, 21 Oct 2037 07:28:00 GMT' } })],
    ['a retry: 0 frame', () => sse('retry: 0\n\n')],
  ])('waits at least a second after %s, never a tight loop', async (_what, answer) => {
    let calls = 0;
    vi.stubGlobal('fetch', async () => ((calls += 1), answer()));
    const stream = follow(new Api('a.b.c'));
    await settle(500);
    stream.stop();
    expect(calls).toBe(1);
    const waits = stream.statuses.flatMap((s) => (s.state === 'reconnecting' ? [s.inMs] : []));
    expect(waits.length).toBeGreaterThan(0);
    for (const ms of waits) expect(ms !== undefined && ms >= 1_000 && ms <= 60_000).toBe(true);
  });

  it('waits at most a minute, whatever Retry-After asks', async () => {
    vi.stubGlobal('fetch', async () => new Response('{}', { status: 429, headers: { 'retry-after': '86400' } }));
    const stream = follow(new Api('a.b.c'));
    await settle(100);
    stream.stop();
    expect(stream.statuses.find((s) => s.state === 'reconnecting')).toMatchObject({ inMs: 60_000 });
  });

  it('gives up on a line longer than any event, instead of buffering it', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(1 << 20));
    let sent = 0;
    vi.stubGlobal('fetch', async () =>
      sse(new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(new TextEncoder().encode('data: ')), pull: (c) => void (sent++ < 64 && c.enqueue(chunk)) })),
    );
    const stream = follow(new Api('a.b.c'));
    await vi.waitFor(() => expect(stream.statuses.some((s) => s.state === 'reconnecting')).toBe(true), { timeout: 20_000, interval: 20 });
    stream.stop();
    expect(stream.statuses.find((s) => s.state === 'reconnecting')).toMatchObject({ why: expect.stringMatching(/longer than \d+ characters/) });
    expect(sent).toBeLessThan(64);
  }, 30_000);

  it('signs the user out when the server ends the stream for a revoked token', async () => {
    vi.stubGlobal('fetch', async () => sse('event: dropped\ndata: {"reason":"unauthorised"}\n\n'));
    const api = new Api('a.b.c');
    const told: number[] = [];
    api.onUnauthenticated((error) => told.push(error.status));
    const stream = follow(api);
    await vi.waitFor(() => expect(stream.statuses.at(-1)).toMatchObject({ state: 'ended' }));
    stream.stop();
    expect(told).toEqual([401]);
  });

  it('reads the same events however the stream is cut into pieces, CR, LF and CRLF line ends split across them', async () => {
    const endings = ['\n', '\r', '\r\n'];
    const expected = Array.from({ length: 40 }, (_, i) => ({ id: String(i + 1), type: i % 3 === 0 ? 'custom' : 'message', data: { n: i, text: `line ${i}` } }));
    let seed = 7;
    const next = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const text = expected
      .map((e, i) => {
        const eol = endings[i % 3]!;
        const fields = [`: comment ${i}`, `id: ${e.id}`, ...(e.type === 'custom' ? ['event: custom'] : []), `data: ${JSON.stringify(e.data)}`];
        return `${fields.join(eol)}${eol}${eol}`;
      })
      .join('');
    for (let trial = 0; trial < 20; trial++) {
      const pieces: string[] = [];
      for (let at = 0; at < text.length; ) {
        const size = 1 + next(7);
        pieces.push(text.slice(at, at + size));
        at += size;
      }
      let served = false;
      vi.stubGlobal('fetch', async () => {
        if (served) return new Promise<Response>(() => undefined);
        served = true;
        const bytes = pieces.map((p) => new TextEncoder().encode(p));
        return sse(new ReadableStream<Uint8Array>({ pull: (c) => void (bytes.length > 0 ? c.enqueue(bytes.shift()!) : c.close()) }));
      });
      const events: unknown[] = [];
      const abort = new AbortController();
      followEvents(new Api('a.b.c'), { onEvent: (e: unknown) => void events.push(e), onStatus: () => undefined, signal: abort.signal } as never);
      await vi.waitFor(() => expect(events).toHaveLength(expected.length), { timeout: 5_000, interval: 5 });
      abort.abort();
      expect(events).toEqual(expected);
    }
  });
});
