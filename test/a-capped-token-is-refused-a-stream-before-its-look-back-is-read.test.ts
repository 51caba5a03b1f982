import { afterAll, describe, expect, it, vi } from 'vitest';
import type { Role } from '../adapters/http/context.ts';
import { toldOnStreams } from '../adapters/http/routes/pseudonym-reads.ts';
import { startIdOf } from '../adapters/http/sse/event-id.ts';
import { toldStartAtOrBelow } from '../adapters/http/sse/told-start.ts';
import { useTestService } from './support/service.ts';
import { openStream, type RawStream } from './http-sse.fixtures.ts';

/*
 * Review 395: a stream opened `from=end` looked back for its start (../adapters/http/sse/told-start.ts, up to 64 pages of
 * 256 records, a pseudonym-directory lookup per record for an auditor) before the stream caps were checked, so a token
 * already holding its streams paid that look-back on every refused request (~160 ms for an operator, ~420 ms for an
 * auditor at a log ending in 16,320 rotations), at the rate limit's ~100 requests a second. Both slots are now taken
 * before anything of the store is read, and a refusal after that (a resume point not in the log) gives both back.
 *
 * What the route reads of the store for a stream's start, counted through the functions that read it (a count, not a
 * time): the caller's teller, the look-back, the start's id.
 */
vi.mock('../adapters/http/sse/told-start.ts', async (actual) => {
  const real = await actual<typeof import('../adapters/http/sse/told-start.ts')>();
  return { ...real, toldStartAtOrBelow: vi.fn(real.toldStartAtOrBelow) };
});
vi.mock('../adapters/http/routes/pseudonym-reads.ts', async (actual) => {
  const real = await actual<typeof import('../adapters/http/routes/pseudonym-reads.ts')>();
  return { ...real, toldOnStreams: vi.fn(real.toldOnStreams) };
});
vi.mock('../adapters/http/sse/event-id.ts', async (actual) => {
  const real = await actual<typeof import('../adapters/http/sse/event-id.ts')>();
  return { ...real, startIdOf: vi.fn(real.startIdOf) };
});

const storeReadsForAStart = (): number =>
  vi.mocked(toldStartAtOrBelow).mock.calls.length + vi.mocked(toldOnStreams).mock.calls.length + vi.mocked(startIdOf).mock.calls.length;

const QUERY: Record<'operator' | 'auditor' | 'integrator', string> = {
  operator: 'identifiers=canonical',
  auditor: 'identifiers=canonical',
  integrator: 'identifiers=pseudonymous',
};

const held: RawStream[] = [];
afterAll(() => {
  for (const stream of held) stream.close();
});

describe('a token holding all its streams', () => {
  const svc = useTestService({ config: { limits: { sseHeartbeatMs: 50, maxSseStreamsPerPrincipal: 1, maxSseStreams: 8, maxPseudonymisedStreams: 8 } } });
  const tokenOf = async (role: Role, subject: string): Promise<string> =>
    (await svc.service.context.access.issue({ subject, role, ttlSeconds: 3_600, issuedBy: 'test' })).token;

  it.each(['operator', 'auditor', 'integrator'] as const)('is refused 429 too_many_streams from=end, as %s, with nothing of the store read for its start', async (role) => {
    const token = await tokenOf(role, `capped-${role}`);
    const holding = await openStream(svc.url, token, `/v1/events?from=start&${QUERY[role]}`);
    held.push(holding);
    expect(holding.status).toBe(200);

    // Its own open read its start: counted from here.
    vi.mocked(toldStartAtOrBelow).mockClear();
    vi.mocked(toldOnStreams).mockClear();
    vi.mocked(startIdOf).mockClear();
    for (let i = 0; i < 3; i++) {
      const refused = await openStream(svc.url, token, `/v1/events?from=end&${QUERY[role]}`);
      expect(refused.status).toBe(429);
      expect(refused.problem).toMatchObject({ status: 429, type: expect.stringMatching(/too_many_streams$/), limit: 1 });
      expect(String(refused.problem?.['detail'])).toContain(`capped-${role}`);
    }
    expect(vi.mocked(toldStartAtOrBelow).mock.calls.length, "toldStartAtOrBelow calls").toBe(0);
    expect(vi.mocked(toldOnStreams).mock.calls.length, "toldOnStreams calls").toBe(0);
    expect(vi.mocked(startIdOf).mock.calls.length, "startIdOf calls").toBe(0);
    expect(storeReadsForAStart()).toBe(0);

    // The spies do see a stream's start: another subject's from=end opens and reads it.
    const other = await openStream(svc.url, await tokenOf(role, `free-${role}`), `/v1/events?from=end&${QUERY[role]}`);
    held.push(other);
    expect(other.status).toBe(200);
    expect(storeReadsForAStart()).toBeGreaterThan(0);
  });
});

describe('a stream refused after its slots are taken', () => {
  // One stream a token, one canonical and one pseudonymised stream for the whole service: a slot a refusal kept would
  // refuse the next stream of the token, and of everyone.
  const svc = useTestService({ config: { limits: { sseHeartbeatMs: 50, maxSseStreamsPerPrincipal: 1, maxSseStreams: 1, maxPseudonymisedStreams: 1 } } });
  const tokenOf = async (role: Role, subject: string): Promise<string> =>
    (await svc.service.context.access.issue({ subject, role, ttlSeconds: 3_600, issuedBy: 'test' })).token;

  it.each(['operator', 'auditor', 'integrator'] as const)('holds no slot: as %s, a resume point past the head is 409, and a stream opens after', async (role) => {
    const token = await tokenOf(role, `refused-${role}`);
    for (let i = 0; i < 3; i++) {
      const refused = await openStream(svc.url, token, `/v1/events?after=999999999&${QUERY[role]}`);
      expect(refused.status).toBe(409);
      expect(refused.problem).toMatchObject({ status: 409, type: expect.stringMatching(/resume_point_not_in_log$/) });
    }
    // A slot a refusal kept is never given back: the stream would stay refused. Polled, as the previous case's stream
    // gives back its service-wide place only once the server sees its close.
    await expect
      .poll(async () => {
        const opened = await openStream(svc.url, token, `/v1/events?from=end&${QUERY[role]}`);
        opened.close();
        return opened.status;
      }, { timeout: 10_000 })
      .toBe(200);
  });
});
