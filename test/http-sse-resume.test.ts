import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { subscribeEvents, type SseEvent } from '../adapters/client/sse.ts';
import { systemClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { startTestService, type TestService } from './support/service.ts';
import { createSubscriptions, openStream } from './http-sse.fixtures.ts';

// Issue 12: "Last-Event-ID resumes strictly after it with no gap and no duplicate, across server restarts".
// Events are appended before the restart, while the server is down (straight into its data folder) and after;
// one client, reconnecting on its own with Last-Event-ID, must see each exactly once and in order.

const dir = mkdtempSync(join(tmpdir(), 'credence-sse-resume-'));
let svc: TestService | undefined;
afterAll(async () => {
  await svc?.close();
  rmSync(dir, { recursive: true, force: true });
});

const HANG_GUARD_MS = 30_000;

const subscriptionPositions = async (s: TestService): Promise<string[]> => {
  const out: string[] = [];
  for await (const e of s.service.context.credence.store.readAll({ filter: { streamPrefixes: ['subscription-'] } })) out.push(e.position.toString());
  return out;
};

describe('SSE resume across a server restart', () => {
  it('delivers events appended before, during and after the outage exactly once, in order', async () => {
    svc = await startTestService({ dir });
    const port = Number(new URL(svc.url).port);
    const token = svc.tokens.auditor;
    await createSubscriptions(svc.service.context.credence.engine, 'before', 5);

    const received: SseEvent[] = [];
    const resumedAfter: string[] = [];
    let wake: () => void = () => undefined;
    const stop = new AbortController();
    const consuming = (async () => {
      for await (const event of subscribeEvents(svc!.url, {
        path: '/v1/events?kind=subscription',
        token,
        signal: stop.signal,
        onReconnect: (lastEventId) => resumedAfter.push(lastEventId),
      })) {
        received.push(event);
        wake();
      }
    })();
    const receivedAtLeast = (count: number) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`received ${received.length} of ${count} events`)), HANG_GUARD_MS);
        wake = () => {
          if (received.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        };
        wake();
      });

    await receivedAtLeast(5);
    await svc.service.close();

    // The outage: the data folder written by another writer (the server is down).
    const store = openSqliteStoreInDir(dir);
    await createSubscriptions(createEngine({ store, clock: systemClock }), 'outage', 5);
    await store.close();

    svc = await startTestService({ dir, config: { port } });
    await createSubscriptions(svc.service.context.credence.engine, 'after', 5);
    await receivedAtLeast(15);
    stop.abort();
    await consuming;

    const positions = await subscriptionPositions(svc);
    expect(positions).toHaveLength(15);
    expect(received.map((e) => e.id.split('~')[0])).toEqual(positions);
    expect(received.map((e) => JSON.parse(e.data).streamId)).toEqual([
      ...[0, 1, 2, 3, 4].map((i) => `subscription-before-${i}`),
      ...[0, 1, 2, 3, 4].map((i) => `subscription-outage-${i}`),
      ...[0, 1, 2, 3, 4].map((i) => `subscription-after-${i}`),
    ]);
    // The client came back after the shutdown with the last id it had seen.
    expect(resumedAfter[0]).toBe(received[4]!.id);

    // A new client resuming from any id gets exactly the rest, on the restarted server too.
    for (const k of [0, 4, 9, 13]) {
      const tail = positions.slice(k + 1);
      const s = await openStream(svc.url, token, '/v1/events?kind=subscription', { 'last-event-id': positions[k]! });
      try {
        await s.until(() => s.events().length >= tail.length, `the ${tail.length} events after ${positions[k]}`);
        expect(s.events().map((e) => e.id.split('~')[0])).toEqual(tail);
      } finally {
        s.close();
      }
    }
  }, 60_000);
});

describe('the first frame of a stream', () => {
  it('names the position it starts after, so a stream cut before its first event resumes there (found in review)', async () => {
    const s2 = await startTestService();
    try {
      await createSubscriptions(s2.service.context.credence.engine, 'first', 3);
      const head = (await s2.service.context.credence.store.headPosition())!;
      const frameIds = async (path: string, headers: Record<string, string> = {}) => {
        const stream = await openStream(s2.url, s2.tokens.auditor, path, headers);
        await stream.until(() => stream.frames.length >= 1, 'the first frame');
        await new Promise((resolve) => setTimeout(resolve, 200));
        stream.close();
        return stream.frames.flatMap((f) => (f.kind === 'id' ? [{ kind: 'id', id: f.id.split('~')[0] }] : []));
      };
      expect(await frameIds('/v1/events?from=end')).toEqual([{ kind: 'id', id: head.toString() }]);
      expect(await frameIds('/v1/events?after=2')).toEqual([{ kind: 'id', id: '2' }]);
      expect(await frameIds('/v1/events', { 'last-event-id': '1' })).toEqual([{ kind: 'id', id: '1' }]);
      expect(await frameIds('/v1/events?from=start')).toEqual([]);

      // A client whose stream ends before any event resumes after that position: what was written meanwhile arrives.
      const received: SseEvent[] = [];
      const stop = new AbortController();
      let connections = 0;
      const client = (async () => {
        const options = {
          path: '/v1/events?from=end&kind=subscription',
          token: s2.tokens.auditor,
          signal: stop.signal,
          onFrame: (frame: { kind: string }) => void (frame.kind === 'id' && (connections += 1)),
        };
        for await (const event of subscribeEvents(s2.url, options)) {
          received.push(event);
          if (received.length >= 1) stop.abort();
        }
      })().catch(() => undefined);
      await expect.poll(() => connections, { timeout: 10_000 }).toBe(1);
      await s2.restart();
      await createSubscriptions(s2.service.context.credence.engine, 'meanwhile', 1);
      await client;
      expect(received.map((e) => JSON.parse(e.data).streamId)).toEqual(['subscription-meanwhile-0']);
    } finally {
      await s2.close();
    }
  });
});
