import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';
import { openStream, type RawStream } from './http-sse.fixtures.ts';

/*
 * Review 199 (SER-001): the pseudonymised streams operators and auditors asked for counted against the integrators'
 * places, so auditors (whose subjects an admin mints at will) filling them kept every integrator out. They then had
 * places of their own (`limits.maxPseudonymisedStreamsOfOperatorsAndAuditors`). Since review 229 they are refused the
 * pseudonymised stream (its positions paired with their canonical stream's linked each pseudonym to its node): refused
 * before any place is taken, so however many they ask for, the integrators' places stay theirs, and the retired setting
 * is still accepted.
 */

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService({ config: { limits: { sseHeartbeatMs: 50, maxSseStreamsPerPrincipal: 4, maxPseudonymisedStreams: 2, maxPseudonymisedStreamsOfOperatorsAndAuditors: 2 } } });
}, 30_000);
afterAll(async () => {
  await svc?.close();
});

const PSEUDONYMOUS = '/v1/events?from=end&identifiers=pseudonymous';

/** A token of a subject of its own, as an admin mints one. */
const minted = async (subject: string, role: 'operator' | 'auditor' | 'integrator'): Promise<string> =>
  (await svc.service.context.access.issue({ subject, role, ttlSeconds: 3_600, issuedBy: 'test' })).token;

const open = async (subject: string, role: 'operator' | 'auditor' | 'integrator', path = PSEUDONYMOUS): Promise<RawStream> =>
  openStream(svc.url, await minted(subject, role), path);

describe('pseudonymised event stream places', () => {
  it('are never taken by operators or auditors, who are refused the stream (403, nothing streams) however many ask', async () => {
    const refused = [
      ...(await Promise.all(['auditor-1', 'auditor-2', 'auditor-3'].map((s) => open(s, 'auditor')))),
      ...(await Promise.all(['operator-1', 'operator-2', 'operator-3'].map((s) => open(s, 'operator')))),
    ];
    for (const s of refused) s.close();
    expect(refused.map((s) => s.status)).toEqual([403, 403, 403, 403, 403, 403]);
    expect(refused.flatMap((s) => s.frames)).toEqual([]);

    // The integrators' places are all there; filling them keeps no operator's or auditor's canonical stream out.
    const integrators = [await open('tenant-a', 'integrator'), await open('tenant-b', 'integrator')];
    expect(integrators.map((s) => s.status)).toEqual([200, 200]);
    const tenant = await open('tenant-c', 'integrator');
    expect(tenant.status).toBe(429);
    expect(tenant.problem).toMatchObject({ type: expect.stringMatching(/too_many_streams$/), limit: 2 });
    const canonical = [await open('auditor-4', 'auditor', '/v1/events?from=end'), await open('operator-4', 'operator', '/v1/events?from=end')];
    expect(canonical.map((s) => s.status)).toEqual([200, 200]);
    for (const s of [...canonical, ...integrators]) s.close();
  });
});
