import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';
import { openStream } from './http-sse.fixtures.ts';

/*
 * Found in review: each pseudonymised stream holds its own fold of who owns which identifier (some 100 MiB for a
 * million credentials), and integrators could open four each, without a bound over all of them. The service serves
 * at most `limits.maxPseudonymisedStreams` at once to integrators, all of them together (operators and auditors are
 * refused that stream: test/pseudonymised-stream-places-of-integrators-and-of-operators-and-auditors-are-apart.test.ts);
 * canonical streams are not counted.
 */

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService({ config: { limits: { sseHeartbeatMs: 50, maxSseStreamsPerPrincipal: 4, maxPseudonymisedStreams: 2 } } });
}, 30_000);
afterAll(async () => {
  await svc?.close();
});

const stream = (role: keyof TestService['tokens'], query: string) => openStream(svc.url, svc.tokens[role], `/v1/events?from=end&${query}`);

describe('pseudonymised event streams', () => {
  it('are capped for the whole service: one more is 429 too_many_streams, a canonical one still opens, a closed one frees its place', async () => {
    const first = await stream('integrator', 'identifiers=pseudonymous');
    const second = await stream('integrator', 'identifiers=pseudonymous');
    expect([first.status, second.status]).toEqual([200, 200]);
    const third = await stream('integrator', 'identifiers=pseudonymous');
    expect(third.status).toBe(429);
    expect(third.problem).toMatchObject({ status: 429, type: expect.stringMatching(/too_many_streams$/), limit: 2 });
    const canonical = await stream('auditor', 'identifiers=canonical');
    expect(canonical.status).toBe(200);
    canonical.close();

    first.close();
    await expect
      .poll(async () => {
        const again = await stream('integrator', 'identifiers=pseudonymous');
        again.close();
        return again.status;
      }, { timeout: 10_000 })
      .toBe(200);
    second.close();
  });
});
