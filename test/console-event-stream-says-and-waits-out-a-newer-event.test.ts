import { afterEach, describe, expect, it, vi } from 'vitest';

/** The console's StreamStatus (adapters/console/src/sse.ts), as far as these tests read it. */
type StreamStatus = { readonly state: string; readonly inMs?: number; readonly why?: string };

// Loaded at run time: these sources are type-checked by the console's own project (DOM lib), not by this Node one.
const consoleSource = (file: string): string => new URL(`../adapters/console/src/${file}`, import.meta.url).href;
const { Api } = (await import(consoleSource('api.ts'))) as { Api: new (token: string) => unknown };
const { followEvents } = (await import(consoleSource('sse.ts'))) as {
  followEvents: (api: unknown, options: { onEvent: () => void; onStatus: (s: StreamStatus) => void; signal: AbortSignal }) => void;
};

/*
 * Review 86, finding 2: the console's DroppedFrame knew no `newer_event`. A stream the server ended before an event a
 * newer version wrote showed only "the stream ended", and the console reconnected a minute later (its cap on
 * `retry:`), for good, each reconnect a server warn line. Now it says which event the server cannot read and that the
 * server needs upgrading, and waits the frame's retryMs (the server's 300 s).
 */
const newerEventStream = (): string =>
  ': dropped: newer_event\nevent: dropped\ndata: ' +
  JSON.stringify({
    reason: 'newer_event',
    position: '42',
    retryMs: 300_000,
    message: 'the event at position 42 was written by a newer version of Credence than this server\'s, which cannot read it: resume from the last event received once the server is upgraded',
  }) +
  '\n\nretry: 300000\n\n';

afterEach(() => vi.unstubAllGlobals());

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const reconnectAfter = async (body: string): Promise<{ calls: number; status: StreamStatus | undefined }> => {
  let calls = 0;
  vi.stubGlobal('fetch', async () => ((calls += 1), new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } })));
  const abort = new AbortController();
  const statuses: StreamStatus[] = [];
  followEvents(new Api('a.b.c'), { onEvent: () => undefined, onStatus: (s) => statuses.push(s), signal: abort.signal });
  await settle(100);
  abort.abort();
  return { calls, status: statuses.find((s) => s.state === 'reconnecting') };
};

describe('the console event-stream client, at a stream ended before an event a newer version wrote', () => {
  it("says the server's version cannot read the event at its position, and to upgrade the server", async () => {
    const { status } = await reconnectAfter(newerEventStream());
    expect(status?.why).toContain('position 42');
    expect(status?.why).toMatch(/upgrade/);
    expect(status?.why).not.toBe('the stream ended');
  });

  it('waits the frame\'s retryMs, not the minute it caps other waits at', async () => {
    const { calls, status } = await reconnectAfter(newerEventStream());
    expect(calls).toBe(1);
    expect(status).toMatchObject({ state: 'reconnecting', inMs: 300_000 });
  });

  it('says it in its own words, with the position, from a frame without a message; and bounds a wait it is told', async () => {
    const frame = (data: Record<string, unknown>) => `event: dropped\ndata: ${JSON.stringify(data)}\n\n`;
    const { status } = await reconnectAfter(frame({ reason: 'newer_event', position: '7', retryMs: 300_000 }));
    expect(status).toMatchObject({ inMs: 300_000, why: "this server's version cannot read the event at position 7: upgrade the server" });
    // A day is not waited: at most 15 minutes; nor a tight loop.
    expect((await reconnectAfter(frame({ reason: 'newer_event', position: '7', retryMs: 86_400_000 }))).status).toMatchObject({ inMs: 900_000 });
    expect((await reconnectAfter(frame({ reason: 'newer_event', position: '7', retryMs: 0 }))).status).toMatchObject({ inMs: 1_000 });
  });

  it('waits as before after a stream that ends for another reason', async () => {
    const { status } = await reconnectAfter('id: 5\nevent: NodeRegistered\ndata: {}\n\nevent: dropped\ndata: {"reason":"error","retryMs":5000}\n\nretry: 5000\n\n');
    expect(status).toMatchObject({ inMs: 5_000, why: 'the server dropped the stream: a server error' });
  });
});
