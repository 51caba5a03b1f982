import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role, RouteModule } from '../adapters/http/context.ts';
import { startTestService, type TestService } from './support/service.ts';
import { openStream, type RawStream } from './http-sse.fixtures.ts';

// Review (F2): the per-principal stream cap and rate limit were keyed on the token's subject alone, and an admin may
// issue an integrator token under an operator's subject: its holder then spent that operator's budget and took its
// stream slots. Both are now keyed on role and subject; a subject's tokens of one role still share them.

const RATE_LIMIT = 5;

const whoami: RouteModule = (app) => {
  app.get('/test/whoami', { config: { access: ['operator', 'integrator'] } }, async (request) => ({ subject: request.principal!.subject }));
};

describe('an integrator and an operator token of the same subject', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({
      routes: [whoami],
      config: { limits: { rateLimitPerPrincipal: RATE_LIMIT, rateLimitWindowMs: 60_000, maxSseStreamsPerPrincipal: 1, sseHeartbeatMs: 100 } },
    });
  }, 30_000);
  afterAll(async () => {
    await svc?.close();
  });

  const tokenOf = async (subject: string, role: Role): Promise<string> =>
    (await svc.service.context.access.issue({ subject, role, ttlSeconds: 3600, issuedBy: 'test' })).token;

  const whoamiAs = async (token: string): Promise<number> => (await fetch(`${svc.url}/test/whoami`, { headers: { authorization: `Bearer ${token}` } })).status;

  it('the integrator spending its whole rate limit leaves the operator its own', async () => {
    const integrator = await tokenOf('globex', 'integrator');
    const operator = await tokenOf('globex', 'operator');
    const statuses: number[] = [];
    for (let i = 0; i <= RATE_LIMIT; i++) statuses.push(await whoamiAs(integrator));
    expect(statuses).toEqual([...Array<number>(RATE_LIMIT).fill(200), 429]);
    expect(await whoamiAs(operator)).toBe(200);
    // Another integrator token of the subject shares the spent budget: all its tokens of one role together.
    expect(await whoamiAs(await tokenOf('globex', 'integrator'))).toBe(429);
  });

  it("the integrator holding every stream slot of its subject leaves the operator's slots free", async () => {
    const integrator = await tokenOf('acme', 'integrator');
    const operator = await tokenOf('acme', 'operator');
    const streams: RawStream[] = [];
    try {
      streams.push(await openStream(svc.url, integrator, '/v1/events?from=end'));
      streams.push(await openStream(svc.url, integrator, '/v1/events?from=end'));
      expect(streams.map((s) => s.status)).toEqual([200, 429]);
      expect(streams[1]!.problem).toMatchObject({ type: 'https://credence.dev/problems/too_many_streams' });
      streams.push(await openStream(svc.url, operator, '/v1/events?from=end'));
      expect(streams[2]!.status).toBe(200);
    } finally {
      for (const s of streams) s.close();
    }
  });
});
