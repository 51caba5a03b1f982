import { afterAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';
import { openStream } from './http-sse.fixtures.ts';

// Issue 12, graceful shutdown: "close streams with a retry hint". Open SSE streams do not hold the shutdown; each
// ends with a `retry:` hint so its client comes back (with Last-Event-ID) once the server is up again.

let svc: TestService | undefined;
afterAll(async () => {
  await svc?.close();
});

describe('SSE on graceful shutdown', () => {
  it('ends every open stream with a retry hint, and the shutdown completes', async () => {
    svc = await startTestService();
    const streams = await Promise.all([
      openStream(svc.url, svc.tokens.operator, '/v1/events'),
      openStream(svc.url, svc.tokens.auditor, '/v1/events?from=end'),
      openStream(svc.url, svc.tokens.integrator, '/v1/events?kind=node'),
    ]);
    expect(streams.map((s) => s.status)).toEqual([200, 200, 200]);
    // Recorded as they happen: after the shutdown the metrics can no longer be scraped.
    const { metrics } = svc.service.context;
    const closed: string[] = [];
    const count = metrics.sseClientClosed.bind(metrics);
    (metrics as { sseClientClosed: typeof metrics.sseClientClosed }).sseClientClosed = (role, reason) => {
      closed.push(`${role}:${reason}`);
      count(role, reason);
    };

    await svc.service.close();
    await Promise.all(streams.map((s) => s.ended));
    for (const s of streams) {
      const last = s.frames.slice(-2);
      expect(last).toEqual([
        { kind: 'comment', text: 'shutdown' },
        { kind: 'retry', ms: expect.any(Number) },
      ]);
      expect((last[1] as { ms: number }).ms).toBeGreaterThan(0);
    }
    expect(closed.sort()).toEqual(['auditor:shutdown', 'integrator:shutdown', 'operator:shutdown']);
  }, 30_000);
});
