import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';
import { openStream, type RawStream } from './http-sse.fixtures.ts';

/*
 * Review 199 (SER-001): the pseudonymised streams operators and auditors asked for counted against the integrators'
 * places, so auditors (whose subjects an admin mints at will) filling them kept every integrator out, though the
 * documentation said neither side could keep the other out. Integrators have `limits.maxPseudonymisedStreams` places,
 * operators and auditors `limits.maxPseudonymisedStreamsOfOperatorsAndAuditors` of their own.
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

const open = async (subject: string, role: 'operator' | 'auditor' | 'integrator'): Promise<RawStream> => openStream(svc.url, await minted(subject, role), PSEUDONYMOUS);

describe('pseudonymised event stream places', () => {
  it('of operators and auditors and of integrators are apart: neither side filling its own keeps the other out', async () => {
    const auditors = [await open('auditor-1', 'auditor'), await open('auditor-2', 'auditor')];
    expect(auditors.map((s) => s.status)).toEqual([200, 200]);
    // The operators' and auditors' places are full: one more of theirs is refused.
    const operator = await open('operator-1', 'operator');
    expect(operator.status).toBe(429);
    expect(operator.problem).toMatchObject({ type: expect.stringMatching(/too_many_streams$/), limit: 2 });

    // The integrators' are untouched, and filling them keeps no operator or auditor out either.
    const integrators = [await open('tenant-a', 'integrator'), await open('tenant-b', 'integrator')];
    expect(integrators.map((s) => s.status)).toEqual([200, 200]);
    const tenant = await open('tenant-c', 'integrator');
    expect(tenant.status).toBe(429);
    expect(tenant.problem).toMatchObject({ type: expect.stringMatching(/too_many_streams$/), limit: 2 });

    auditors[0]!.close();
    let tries = 0;
    await expect
      .poll(async () => {
        const again = await open(`auditor-late-${++tries}`, 'auditor');
        again.close();
        return again.status;
      }, { timeout: 10_000 })
      .toBe(200);
    for (const s of [...auditors, ...integrators]) s.close();
  });
});
