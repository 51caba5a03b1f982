import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SseEvent } from '../adapters/client/sse.ts';
import { openAccessControl } from '../adapters/http/auth/open-access-control.ts';
import { startTestService, type TestService } from './support/service.ts';
import { openStream, type RawStream } from './http-sse.fixtures.ts';

// Issue 12 review: a stream whose token this service revokes ends at once (AccessControl.onRevoked), not at the
// next heartbeat. A revocation made by another process on the same access.db (`credence token revoke --data`) is
// not heard: the heartbeat still finds it.

const HANG_GUARD_MS = 20_000;
const within = <T>(promise: Promise<T>, what: string, ms = HANG_GUARD_MS): Promise<T> =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms).unref())]);

const expectUnauthorisedEnd = (s: RawStream): void => {
  const last = s.frames.at(-1);
  expect(last).toMatchObject({ kind: 'event', event: 'dropped' });
  expect(JSON.parse((last as SseEvent).data)).toEqual({ reason: 'unauthorised' });
};

describe('a stream whose token this service revokes', () => {
  // A heartbeat a minute away (and a connection timeout past it): only the revocation itself can end the stream soon.
  const HEARTBEAT_MS = 60_000;
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ config: { limits: { sseHeartbeatMs: HEARTBEAT_MS, connectionTimeoutMs: 2 * HEARTBEAT_MS } } });
  }, 30_000);
  afterAll(async () => {
    await svc?.close();
  });

  it('ends at once on DELETE /v1/tokens/:id, with dropped/unauthorised, long before the heartbeat; other streams go on', async () => {
    const revoked = await svc.service.context.access.issue({ subject: 'sse-now', role: 'integrator', ttlSeconds: 3600, issuedBy: 'test' });
    const kept = await svc.service.context.access.issue({ subject: 'sse-kept', role: 'integrator', ttlSeconds: 3600, issuedBy: 'test' });
    const s = await openStream(svc.url, revoked.token, '/v1/events?from=end');
    const other = await openStream(svc.url, kept.token, '/v1/events?from=end');
    try {
      expect([s.status, other.status]).toEqual([200, 200]);
      const response = await fetch(new URL(`/v1/tokens/${revoked.tokenId}`, svc.url), { method: 'DELETE', headers: { authorization: `Bearer ${svc.tokens.admin}` } });
      expect(response.status).toBe(204);
      // Only the revocation can end it before this guard gives up: the heartbeat that would also find it is a minute away.
      await within(s.ended, 'the stream to end after the revocation', 10_000);
      expectUnauthorisedEnd(s);
      // The other token's stream is untouched.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(other.frames.some((f) => f.kind === 'event')).toBe(false);
      // Revoking again (already revoked, its stream gone) finds no listener left and fails nothing.
      expect(svc.service.context.access.revoke(revoked.tokenId, 'test')).toBe(true);
    } finally {
      s.close();
      other.close();
    }
  });
});

describe('a stream whose token another process revokes (the CLI on the same access.db)', () => {
  const HEARTBEAT_MS = 150;
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ config: { limits: { sseHeartbeatMs: HEARTBEAT_MS } } });
  }, 30_000);
  afterAll(async () => {
    await svc?.close();
  });

  it('ends within a heartbeat or so: the heartbeat re-reads access.db', async () => {
    const issued = await svc.service.context.access.issue({ subject: 'sse-cli', role: 'auditor', ttlSeconds: 3600, issuedBy: 'test' });
    const s = await openStream(svc.url, issued.token, '/v1/events?from=end');
    const local = await openAccessControl(svc.dir);
    try {
      expect(s.status).toBe(200);
      expect(local.access.revoke(issued.tokenId, 'local:test')).toBe(true);
      await within(s.ended, 'the heartbeat to notice the revocation');
      expectUnauthorisedEnd(s);
    } finally {
      local.close();
      s.close();
    }
  });
});
