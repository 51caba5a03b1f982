import { afterEach, describe, expect, it } from 'vitest';
import type { SseFrame } from '../adapters/client/sse.ts';
import { RETRY_MS } from '../adapters/http/sse/session.ts';
import { pausedClient, startSessionServer, within, type SessionServer } from './support/sse-session-on-a-socket.ts';

/*
 * Review 79, finding 3: docs/service.md said a slow client is dropped with `: dropped: slow`, `event: dropped` and
 * `retry: 5000`. Those frames are queued behind what the client has not read, and the connection is cut one stall
 * period later: a client that never reads again never receives them (what Node still held is discarded with the
 * socket), and reconnects after the last `retry:` it did receive, the `retry: 1000` of the stream's opening frame.
 * Only a client that catches up within that grace period reads them. Both, as docs/service.md now says.
 */

const MARK = 65_536;
const STALL_MS = 300;

let server: SessionServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const eventIds = (frames: readonly SseFrame[]): string[] => frames.flatMap((f) => (f.kind === 'event' && f.event === 'NodeRegistered' ? [f.id] : []));
const inOrder = (count: number): string[] => Array.from({ length: count }, (_, i) => String(i + 1));

describe('a client dropped as slow', () => {
  it('that never reads again is cut without the drop frames, holding the opening retry and its last whole event', async () => {
    server = await startSessionServer({ highWaterBytes: MARK, stallMs: STALL_MS });
    const client = await pausedClient(server.url);
    expect((await within(server.ended, 'the drop')).reason).toBe('slow');
    await within(server.connectionClosed, 'the server to cut the connection');
    const written = server.queued.length;

    // What reaches it once it reads again: what the kernel's buffers held, then the cut.
    const frames = await within(client.readAll(), 'the client to read what reached it');
    const ids = eventIds(frames);
    // A strict prefix of the stream, whole events only (a torn last one is discarded, as EventSource does): it
    // resumes after the last of them with Last-Event-ID and loses nothing.
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.length).toBeLessThan(written);
    expect(ids).toEqual(inOrder(ids.length));
    // No drop frames: neither the comment, nor the event, nor their retry hint.
    expect(frames.some((f) => f.kind === 'event' && f.event === 'dropped')).toBe(false);
    expect(frames.some((f) => f.kind === 'comment' && f.text.startsWith('dropped'))).toBe(false);
    // The only reconnection delay it holds is the opening one.
    expect(frames.filter((f) => f.kind === 'retry')).toEqual([{ kind: 'retry', ms: RETRY_MS.initial }]);
    expect(RETRY_MS.initial).toBe(1_000);
  });

  it('that catches up within the grace period reads every event written, then the drop frames', async () => {
    // A grace period (one stall period) long enough to read some megabytes on a busy machine.
    server = await startSessionServer({ highWaterBytes: MARK, stallMs: 2_000 });
    const client = await pausedClient(server.url);
    expect((await within(server.ended, 'the drop')).reason).toBe('slow');
    const written = server.queued.length;

    const frames = await within(client.readAll(), 'the client to read to the end');
    // Every event written, the one it stalled on too, then `: dropped: slow`, the event and `retry: 5000`, last.
    expect(eventIds(frames)).toEqual(inOrder(written));
    const tail = frames.slice(frames.findIndex((f) => f.kind === 'comment' && f.text === 'dropped: slow'));
    expect(tail).toEqual([
      { kind: 'comment', text: 'dropped: slow' },
      // No id of its own: the last event id stays on the last event received.
      { kind: 'event', id: String(written), event: 'dropped', data: JSON.stringify({ reason: 'slow', retryMs: RETRY_MS.dropped }) },
      { kind: 'retry', ms: RETRY_MS.dropped },
    ]);
    expect(RETRY_MS.dropped).toBe(5_000);
  });
});
