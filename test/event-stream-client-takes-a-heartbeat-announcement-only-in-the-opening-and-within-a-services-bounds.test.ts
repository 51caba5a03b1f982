/**
 * Review 361: the client trusted any `: heartbeat-ms N` a stream sent, anywhere in it: `heartbeat-ms 9999999999`
 * (no service may be set past 3,600,000) turned silence detection off for some 25 days, and one sent after a heartbeat
 * did the same. An announcement counts only in the stream's opening, and never past what a service may announce.
 */
import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { silenceFor, subscribeEvents } from '../adapters/client/sse.ts';

const silentAfter = async (opening: string, silenceMs: number): Promise<number> => {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(opening);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const silences: number[] = [];
  try {
    const events = subscribeEvents(`http://127.0.0.1:${(server.address() as { port: number }).port}`, {
      path: '/v1/events',
      silenceMs,
      maxReconnects: 0,
      onSilent: (_lastEventId, allowed) => silences.push(allowed),
    });
    await Promise.race([events.next().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 3_000))]);
    return silences[0] ?? Number.NaN;
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
};

describe('a heartbeat announcement', () => {
  it('sent after a heartbeat is no announcement: the caller silence applies', async () => {
    expect(await silentAfter('retry: 1000\n\n: heartbeat\n\n: heartbeat-ms 100000\n\n', 300)).toBe(300);
  }, 10_000);

  it('in the opening sets the silence to four heartbeats', async () => {
    expect(await silentAfter('retry: 1000\n\n: heartbeat-ms 100\n\n', 300)).toBe(400);
  }, 10_000);

  it('past what a service may announce is taken as that bound (3,600,000 ms)', () => {
    expect(silenceFor(60_000, 9_999_999_999)).toBe(4 * 3_600_000);
    expect(silenceFor(60_000, 3_600_000)).toBe(4 * 3_600_000);
    expect(silenceFor(60_000, 15_000)).toBe(60_000);
  });
});
