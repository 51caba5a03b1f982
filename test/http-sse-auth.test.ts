import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProblemResponse } from '../adapters/client/http.ts';
import { subscribeEvents, type SseDropped, type SseEvent } from '../adapters/client/sse.ts';
import type { Role } from '../adapters/http/context.ts';
import { startTestService, type TestService } from './support/service.ts';
import { createSubscriptions, openStream, settled, type RawStream } from './http-sse.fixtures.ts';

// Issue 12 review: a stream is only as good as the token it was opened with. A revoked token ends its streams
// within a heartbeat and an expiring one at its expiry, each with `event: dropped` (reason unauthorised) and no
// retry hint, and the principal's slot comes back. A HEAD is no way to open a stream, and a client that leaves
// before the server takes its socket over holds no slot.

const HANG_GUARD_MS = 20_000;
const within = <T>(promise: Promise<T>, what: string, ms = HANG_GUARD_MS): Promise<T> =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms).unref())]);

const issue = async (svc: TestService, subject: string, ttlSeconds: number, role: Role = 'auditor') =>
  svc.service.context.access.issue({ subject, role, ttlSeconds, issuedBy: 'test' });

const metricsOf = async (svc: TestService): Promise<string> => (await fetch(new URL('/metrics', svc.url))).text();

/** The frames after the opening retry hint: the stream ended on `event: dropped` {reason: unauthorised}, without a retry hint. */
const expectUnauthorisedEnd = (s: RawStream): void => {
  const last = s.frames.at(-1);
  expect(last).toMatchObject({ kind: 'event', event: 'dropped' });
  expect(JSON.parse((last as SseEvent).data)).toEqual({ reason: 'unauthorised' });
  expect(s.frames.filter((f) => f.kind === 'retry')).toEqual([s.frames[0]]);
};

describe('an SSE stream whose token is revoked', () => {
  const HEARTBEAT_MS = 100;
  let svc: TestService;
  let positions: bigint[];
  beforeAll(async () => {
    svc = await startTestService({ config: { limits: { sseHeartbeatMs: HEARTBEAT_MS, maxSseStreamsPerPrincipal: 1 } } });
    positions = await createSubscriptions(svc.service.context.credence.engine, 'revoked', 3);
    await settled(svc);
  }, 30_000);
  afterAll(async () => {
    await svc?.close();
  });

  it('ends within a heartbeat with dropped/unauthorised and no retry hint, receives nothing more, and frees the slot', async () => {
    const issued = await issue(svc, 'sse-revoked', 3600);
    const s = await openStream(svc.url, issued.token, '/v1/events?type=SubscriptionCreated');
    try {
      expect(s.status).toBe(200);
      await s.until(() => s.events().length >= positions.length, 'the history');

      const revoked = await fetch(new URL(`/v1/tokens/${issued.tokenId}`, svc.url), { method: 'DELETE', headers: { authorization: `Bearer ${svc.tokens.admin}` } });
      expect(revoked.ok).toBe(true);
      // The revocation ends it at once; that it is not the heartbeat that does so is test/http-sse-revocation.test.ts.
      await within(s.ended, 'the stream to end after the revocation');
      expectUnauthorisedEnd(s);

      const later = await createSubscriptions(svc.service.context.credence.engine, 'after-revocation', 1);
      await new Promise((resolve) => setTimeout(resolve, 3 * HEARTBEAT_MS));
      expect(s.events().some((e) => e.id.split('~')[0] === later[0]!.toString())).toBe(false);
      positions.push(...later);
      expect(await metricsOf(svc)).toMatch(/credence_sse_closed_total\{role="auditor",reason="unauthorised"\} 1/);
    } finally {
      s.close();
    }

    // The slot of the principal is free (the cap is one stream): a new token of the same subject opens a stream.
    const renewed = await issue(svc, 'sse-revoked', 3600);
    const again = await openStream(svc.url, renewed.token, '/v1/events?from=end');
    again.close();
    expect(again.status).toBe(200);
    // The revoked token itself is refused.
    const refused = await openStream(svc.url, issued.token, '/v1/events?from=end');
    expect(refused.status).toBe(401);
  });

  it('reaches a client as a control signal, never as a lifecycle event, and the reconnection is refused with 401', async () => {
    const issued = await issue(svc, 'sse-client', 3600);
    const events: SseEvent[] = [];
    const dropped: SseDropped[] = [];
    const run = (async () => {
      for await (const event of subscribeEvents(svc.url, {
        path: '/v1/events?type=SubscriptionCreated',
        token: issued.token,
        onDropped: (d) => dropped.push(d),
        signal: AbortSignal.timeout(HANG_GUARD_MS),
      })) {
        events.push(event);
        if (events.length === positions.length) svc.service.context.access.revoke(issued.tokenId, 'test');
      }
    })();
    const error = await within(run.then(() => undefined, (e: unknown) => e), 'the subscription to end');
    expect(error).toBeInstanceOf(ProblemResponse);
    expect((error as ProblemResponse).status).toBe(401);
    expect(events.map((e) => e.event)).not.toContain('dropped');
    expect(events.map((e) => e.id.split('~')[0])).toEqual(positions.map(String));
    expect(dropped).toEqual([{ reason: 'unauthorised', lastEventId: events.at(-1)!.id }]);
  });
});

describe('an SSE stream whose token expires', () => {
  // Heartbeats far apart: what ends the stream is the expiry, not a heartbeat. The connection timeout must exceed
  // the heartbeat (adapters/http/service-limits-config.ts), or a quiet stream would be cut first.
  const HEARTBEAT_MS = 60_000;
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ config: { limits: { sseHeartbeatMs: HEARTBEAT_MS, connectionTimeoutMs: 2 * HEARTBEAT_MS, maxSseStreamsPerPrincipal: 1 } } });
  }, 30_000);
  afterAll(async () => {
    await svc?.close();
  });

  it('ends at the expiry with dropped/unauthorised and no retry hint, and frees the slot', async () => {
    const issued = await issue(svc, 'sse-expiring', 2);
    const s = await openStream(svc.url, issued.token, '/v1/events?from=end');
    try {
      expect(s.status).toBe(200);
      await within(s.ended, 'the stream to end at the expiry', 10_000);
      // setTimeout fires no earlier than asked; a little leeway for the clock's rounding.
      expect(Date.now()).toBeGreaterThanOrEqual(issued.expiresAt.getTime() - 20);
      expectUnauthorisedEnd(s);
    } finally {
      s.close();
    }
    const renewed = await issue(svc, 'sse-expiring', 3600);
    const again = await openStream(svc.url, renewed.token, '/v1/events?from=end');
    again.close();
    expect(again.status).toBe(200);
  });

  it('does not answer HEAD /v1/events with a stream', async () => {
    const response = await within(
      fetch(new URL('/v1/events', svc.url), { method: 'HEAD', headers: { authorization: `Bearer ${svc.tokens.auditor}` } }),
      'the answer to HEAD',
    );
    expect([404, 405]).toContain(response.status);
    expect(response.headers.get('content-type') ?? '').not.toMatch(/event-stream/);
  });

  it('holds no slot for a client that left before its stream was taken over', async () => {
    const issued = await issue(svc, 'sse-gone', 3600);
    // A raw connection that sends the request and closes at once: the server is still verifying the token.
    await within(
      new Promise<void>((resolve, reject) => {
        const url = new URL(svc.url);
        const socket = connect(Number(url.port), url.hostname, () => {
          const head = `GET /v1/events?from=end HTTP/1.1\r\nhost: ${url.host}\r\nauthorization: Bearer ${issued.token}\r\naccept: text/event-stream\r\n\r\n`;
          socket.write(head, () => socket.destroy());
        });
        socket.on('close', () => resolve());
        socket.on('error', reject);
      }),
      'the connection to close',
    );
    // The cap is one stream and the heartbeat a minute away: only releasing the slot at once lets this in.
    await expect
      .poll(async () => {
        const s = await openStream(svc.url, issued.token, '/v1/events?from=end');
        s.close();
        return s.status;
      }, { timeout: 5_000, interval: 100 })
      .toBe(200);
    await expect.poll(async () => metricsOf(svc), { timeout: 5_000 }).toMatch(/credence_sse_clients\{role="auditor"\} 0/);
  });
});
