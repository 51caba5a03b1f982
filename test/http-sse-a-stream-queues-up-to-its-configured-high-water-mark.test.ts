import { afterEach, describe, expect, it } from 'vitest';
import { EVENT_BYTES, pausedClient, startSessionServer, until, within, type SessionServer } from './support/sse-session-on-a-socket.ts';

/*
 * Review 79, finding 2: `limits.sseHighWaterBytes` did nothing above Node's own 16 KiB socket mark. The writer waited
 * while `writableNeedDrain` was set, which happens once Node's socket buffer passes 16 KiB and clears only at 'drain'
 * (an empty buffer), so with the documented 1 MiB a client that stopped reading paused its stream at about 17 kB
 * (17,255 bytes measured with marks of 1 MiB and 8 MiB alike). The configured mark is now the bound: a stream goes
 * on until its queue passes the mark, by at most the one event that passed it, and then waits for the client.
 */

const MARK = 1_048_576;

let server: SessionServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('an event stream whose client stops reading', () => {
  it('queues up to the configured high-water mark, one event past it at most, then is dropped as slow', async () => {
    server = await startSessionServer({ highWaterBytes: MARK, stallMs: 500 });
    const client = await pausedClient(server.url);
    expect(client.status).toBe(200);

    const { reason, queuedAtEnd } = await within(server.ended, 'the stalled stream to be dropped');
    expect(reason).toBe('slow');
    const queued = server.queued;
    // The write it stalled on is the one that took the queue past the mark: the mark was reached, not 16 KiB.
    const stalledAt = queued.at(-1)!;
    expect(stalledAt).toBeGreaterThan(MARK);
    expect(stalledAt).toBeLessThanOrEqual(MARK + EVENT_BYTES);
    // Never more than that while it ran, and after the final frames only those few bytes more.
    expect(Math.max(...queued)).toBeLessThanOrEqual(MARK + EVENT_BYTES);
    expect(queuedAtEnd).toBeLessThanOrEqual(MARK + EVENT_BYTES + 256);
    // And the connection is still cut one stall period later (the client never read again).
    await within(server.connectionClosed, 'the server to cut the stalled connection');
  });

  it('resumes once the client reads again, and the client gets every event in order', async () => {
    const PAST_THE_PAUSE = 50;
    let pausedAt: number | undefined;
    // Long enough never to drop the client: this stream must wake from its pause, not time out.
    server = await startSessionServer({
      highWaterBytes: MARK,
      stallMs: 60_000,
      lastEvent: (queued) => {
        if (pausedAt === undefined && queued.at(-1)! > MARK) pausedAt = queued.length;
        return pausedAt !== undefined && queued.length >= pausedAt + PAST_THE_PAUSE;
      },
    });
    const client = await pausedClient(server.url);
    const running = server;
    // The stream waits on the client with its queue past the mark...
    await until(() => running.queued.length > 0 && running.queued.at(-1)! > MARK && running.delivered() < running.queued.length, 'the stream to pause past the mark');
    const paused = running.queued.length;
    // ...and goes on as soon as the client reads.
    const frames = await within(client.readAll(), 'the client to read the whole stream');
    const { reason } = await within(running.ended, 'the stream to end');
    expect(reason).toBe('shutdown');
    expect(running.delivered()).toBeGreaterThan(paused);
    const ids = frames.flatMap((f) => (f.kind === 'event' ? [f.id] : []));
    expect(ids).toEqual(Array.from({ length: running.delivered() }, (_, i) => String(i + 1)));
  });
});
