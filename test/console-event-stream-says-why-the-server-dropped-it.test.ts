import { afterEach, describe, expect, it, vi } from 'vitest';
import { frameDropped } from '../adapters/http/sse/frame.ts';

/** The console's StreamStatus (adapters/console/src/sse.ts), as far as these tests read it. */
type StreamStatus = { readonly state: string; readonly inMs?: number; readonly why?: string };

// Loaded at run time: these sources are type-checked by the console's own project (DOM lib), not by this Node one.
const consoleSource = (file: string): string => new URL(`../adapters/console/src/${file}`, import.meta.url).href;
const { Api } = (await import(consoleSource('api.ts'))) as { Api: new (token: string) => unknown };
const { followEvents } = (await import(consoleSource('sse.ts'))) as {
  followEvents: (api: unknown, options: { onEvent: () => void; onStatus: (s: StreamStatus) => void; signal: AbortSignal }) => void;
};

/*
 * Review 363, finding 1: the server ends a stream it could not keep with `event: dropped` and a reason, `slow` (the
 * client fell behind) or `error` (a server fault) (adapters/http/sse/frame.ts, frameDropped). The console acted on
 * `newer_event` and `unauthorised` only, so the status line said "the stream ended" for either. It now says the server
 * dropped the stream, and why, in plain words.
 */
afterEach(() => vi.unstubAllGlobals());

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const reconnectingAfter = async (body: string): Promise<StreamStatus | undefined> => {
  vi.stubGlobal('fetch', async () => new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } }));
  const abort = new AbortController();
  const statuses: StreamStatus[] = [];
  followEvents(new Api('a.b.c'), { onEvent: () => undefined, onStatus: (s) => statuses.push(s), signal: abort.signal });
  await settle(100);
  abort.abort();
  return statuses.find((s) => s.state === 'reconnecting');
};

const EVENT = 'id: 5\nevent: NodeRegistered\ndata: {}\n\n';

describe('the console event-stream client, at a stream the server dropped', () => {
  it.each([
    ['slow', 'the server dropped the stream: this page fell behind'],
    ['error', 'the server dropped the stream: a server error'],
  ] as const)('says why, in plain words, for each reason the server sends: %s', async (reason, why) => {
    // The server's own frame, so that a reason it comes to send is not tested in words it never writes.
    const status = await reconnectingAfter(EVENT + frameDropped(reason, 5_000));
    expect(status).toMatchObject({ state: 'reconnecting', inMs: 5_000, why });
  });

  it('says the server dropped it, naming a reason it does not know, and one without any', async () => {
    const frame = (data: unknown) => `${EVENT}event: dropped\ndata: ${JSON.stringify(data)}\n\nretry: 5000\n\n`;
    expect((await reconnectingAfter(frame({ reason: 'maintenance' })))?.why).toBe('the server dropped the stream (reason “maintenance”)');
    expect((await reconnectingAfter(frame({})))?.why).toBe('the server dropped the stream');
    expect((await reconnectingAfter(frame('not json')))?.why).toBe('the server dropped the stream');
  });

  it('still says "the stream ended" of a stream that ended with no dropped frame', async () => {
    expect((await reconnectingAfter(`${EVENT}retry: 5000\n\n`))?.why).toBe('the stream ended');
  });
});
