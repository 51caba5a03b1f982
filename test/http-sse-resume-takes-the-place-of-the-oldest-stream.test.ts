import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SseEvent } from '../adapters/client/sse.ts';
import { body, openApi } from './http-conformance.fixtures.ts';
import { openStream, settled } from './http-sse.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Found in review: a stream whose client vanished without a word (a NAT's drop, a laptop's sleep) held its slot under
 * the per-principal cap for as long as the operating system kept its connection (heartbeats of a few bytes queue in
 * the kernel, never reaching the stall bound), while the cap answered the returning client 429 "retry after a
 * second". Now a stream that resumes (Last-Event-ID, or after=) at the cap takes the place of the principal's oldest
 * stream, which ends with `dropped` `replaced` and no retry hint. A stream that does not resume is still 429.
 */

describe('GET /v1/events at the per-principal cap', () => {
  let svc: TestService;
  let position: string;
  beforeAll(async () => {
    svc = await startTestService({ config: { limits: { maxSseStreamsPerPrincipal: 2 } } });
    const api = await openApi(svc);
    expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: body.registerNode('meter-1') })).status).toBe(201);
    await settled(svc);
    position = (await svc.service.context.credence.store.headPosition())!.toString(10);
  }, 30_000);
  afterAll(async () => {
    await svc?.close();
  });

  it('takes the place of the oldest stream for a resume; a fresh open is still 429', async () => {
    const oldest = await openStream(svc.url, svc.tokens.integrator, '/v1/events?from=end');
    const newer = await openStream(svc.url, svc.tokens.integrator, '/v1/events?from=end');
    const streams = [oldest, newer];
    try {
      expect([oldest.status, newer.status]).toEqual([200, 200]);
      const fresh = await openStream(svc.url, svc.tokens.integrator, '/v1/events?from=end');
      expect(fresh.status).toBe(429);

      const resumed = await openStream(svc.url, svc.tokens.integrator, '/v1/events', { 'last-event-id': position });
      streams.push(resumed);
      expect(resumed.status).toBe(200);
      await oldest.ended;
      const last = oldest.frames.at(-1);
      expect(last).toMatchObject({ kind: 'event', event: 'dropped' });
      expect(JSON.parse((last as SseEvent).data)).toEqual({ reason: 'replaced' });
      // No retry hint after it: a client still reading would only take the other's place in turn.
      expect(oldest.frames.slice(oldest.frames.indexOf(last!)).some((f) => f.kind === 'retry')).toBe(false);

      // The cap holds: the newer stream and the resumed one, nothing more.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(newer.frames.some((f) => f.kind === 'event' && f.event === 'dropped')).toBe(false);
      const metrics = await (await fetch(`${svc.url}/metrics`)).text();
      expect(metrics).toMatch(/^credence_sse_closed_total\{role="integrator",reason="replaced"\} 1$/m);
    } finally {
      for (const s of streams) s.close();
    }
  });
});
