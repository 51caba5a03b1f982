import { describe, expect, it } from 'vitest';
import { REFUSALS_LOGGED_PER_ADDRESS } from '../adapters/http/refusal-sampling.ts';
import { startTestService } from './support/service.ts';
import { strangersHello } from './support/strangers-hello.ts';

/*
 * Review 448: a hello whose credential cannot be used is answered with a decoy challenge, and its
 * real reason logged (`logDecoyChallenge`). A hello is unauthenticated: a stranger needs no credential, only the
 * Enrolment Function's id (GET /v1/enrolment) and any Node-ID and fingerprint, and each hello wrote that line on top
 * of its `request completed`. The decoy lines of a credential the store does not know (`unknown_credential`) are
 * sampled per address by a sampler of their own (decoy-hello-sampling.ts; not the refusals', review 448): the first
 * REFUSALS_LOGGED_PER_ADDRESS whole, then one `decoy hellos not logged` line with the count; another address's are
 * logged whole. What this bounds is the decoy lines only: each hello's own `request completed` (a 200) is written
 * whole, as any route's answer is, so those lines are bounded by the rate limit alone (`limits.rateLimitPerAddress`).
 */

interface LogLine {
  readonly msg?: string;
  readonly step?: string;
  readonly reason?: string;
  readonly remoteAddress?: string;
  readonly suppressed?: number;
  readonly req?: { readonly url?: string };
}

describe('a flood of strangers\' hellos answered with a decoy challenge', () => {
  it('logs the decoy lines of an address whole up to its bound, then one line counting the rest; another address\'s whole', async () => {
    const svc = await startTestService({ config: { trustProxy: ['127.0.0.1'], limits: { rateLimitWindowMs: 600_000, helloFloorMs: 0 } } });
    const flood = 100;
    let lines: LogLine[] = [];
    try {
      const { id } = (await (await fetch(`${svc.url}/v1/enrolment`)).json()) as { id: string };
      const hello = async (i: number, from: string) => {
        const res = await fetch(`${svc.url}/v1/enrolment/hello`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-for': from },
          body: JSON.stringify(strangersHello(id, i)),
        });
        const body = (await res.json()) as { type?: string };
        return { status: res.status, type: body.type };
      };
      for (let i = 0; i < flood; i++) expect(await hello(i, '198.51.100.7')).toEqual({ status: 200, type: 'provisioning.challenge' });
      expect(await hello(flood, '203.0.113.9')).toEqual({ status: 200, type: 'provisioning.challenge' });
    } finally {
      await svc.close();
      lines = svc.logs().map((l) => JSON.parse(l) as LogLine);
    }
    const decoys = lines.filter((l) => l.msg === 'hello answered with a decoy challenge');
    expect(decoys).toHaveLength(REFUSALS_LOGGED_PER_ADDRESS + 1);
    for (const line of decoys.slice(0, REFUSALS_LOGGED_PER_ADDRESS)) {
      expect(line).toMatchObject({ step: 'provisioning.hello', reason: 'unknown_credential', remoteAddress: '198.51.100.7' });
    }
    // The one past the flooding address's bound is the other address's, logged whole.
    expect(decoys[REFUSALS_LOGGED_PER_ADDRESS]).toMatchObject({ step: 'provisioning.hello', reason: 'unknown_credential', remoteAddress: '203.0.113.9' });
    expect(lines.filter((l) => l.msg === 'decoy hellos not logged')).toEqual([
      expect.objectContaining({ remoteAddress: '198.51.100.7', suppressed: flood - REFUSALS_LOGGED_PER_ADDRESS }),
    ]);
    // Drawn on no refusal budget: no refusal was left out.
    expect(lines.filter((l) => l.msg === 'refusals not logged')).toEqual([]);
    // Each hello's own `request completed` is written whole: bounded by the rate limit only, not by this sampling.
    expect(lines.filter((l) => l.msg === 'request completed' && l.req?.url === '/v1/enrolment/hello')).toHaveLength(flood + 1);
  }, 120_000);
});

describe('a service whose /metrics is public (no probe port)', () => {
  it('does not count decoy hellos there: a stranger would read back why its hello got a decoy (seeds 002/004)', async () => {
    const svc = await startTestService({ config: { limits: { helloFloorMs: 0 } } });
    try {
      const { id } = (await (await fetch(`${svc.url}/v1/enrolment`)).json()) as { id: string };
      const res = await fetch(`${svc.url}/v1/enrolment/hello`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(strangersHello(id, 0)) });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      const metrics = await (await fetch(`${svc.url}/metrics`)).text();
      expect(metrics).toContain('# TYPE credence_decoy_hellos_total counter');
      expect(metrics).not.toMatch(/^credence_decoy_hellos_total\{/m);
      // The line is written all the same.
      expect(svc.logs().map((l) => JSON.parse(l) as LogLine).filter((l) => l.msg === 'hello answered with a decoy challenge')).toHaveLength(1);
    } finally {
      await svc.close();
    }
  }, 120_000);
});
