import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';
import { openStream } from './http-sse.fixtures.ts';

/*
 * Found in review: canonical streams were capped per token subject only, and an admin mints subjects at will (40 in
 * 210 ms): 160 streams catching up from the start held 310 MB and blocked the event loop for 691 ms. The service
 * serves at most `limits.maxSseStreams` canonical streams at once, all principals together; pseudonymised streams
 * have their own bound and are not counted.
 */

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService({
    config: { limits: { sseHeartbeatMs: 50, maxSseStreamsPerPrincipal: 4, maxSseStreams: 2, maxPseudonymisedStreams: 2 } },
  });
}, 30_000);
afterAll(async () => {
  await svc?.close();
});

const stream = (role: keyof TestService['tokens'], query: string) => openStream(svc.url, svc.tokens[role], `/v1/events?${query}`);

/** A token of a subject of its own, as an admin mints one (the review minted 40 in 210 ms). */
const freshOperator = async (subject: string): Promise<string> =>
  (await svc.service.context.access.issue({ subject, role: 'operator', ttlSeconds: 3_600, issuedBy: 'test' })).token;

describe('canonical event streams', () => {
  it('are capped for the whole service: one more, from another subject, is 429 too_many_streams with Retry-After; a pseudonymised one still opens; a closed one frees its place', async () => {
    const first = await stream('operator', 'from=start&identifiers=canonical');
    const second = await stream('auditor', 'from=end&identifiers=canonical');
    expect([first.status, second.status]).toEqual([200, 200]);

    // A subject holding no stream at all: only the service-wide cap can refuse it.
    const third = await openStream(svc.url, await freshOperator('minted-1'), '/v1/events?from=start&identifiers=canonical');
    expect(third.status).toBe(429);
    expect(third.problem).toMatchObject({ status: 429, type: expect.stringMatching(/too_many_streams$/), limit: 2 });
    expect(third.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);

    const pseudonymous = await stream('integrator', 'from=end&identifiers=pseudonymous');
    expect(pseudonymous.status).toBe(200);
    pseudonymous.close();

    const later = await freshOperator('minted-2');
    first.close();
    await expect
      .poll(async () => {
        const again = await openStream(svc.url, later, '/v1/events?from=end&identifiers=canonical');
        again.close();
        return again.status;
      }, { timeout: 10_000 })
      .toBe(200);
    second.close();
  });
});
