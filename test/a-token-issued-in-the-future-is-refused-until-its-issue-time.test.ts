/**
 * Review 320 (1): a token whose `iat` is ahead of the service's clock was accepted before it was issued: its lifetime
 * was judged only as exp − iat, so one made on the data folder by a clock 30 days ahead (`credence token create` on a
 * machine whose clock is wrong, or set so) with a one-hour ttl was good for 30 days and an hour, past
 * `tokens.maxTtlSeconds`. A token issued later than now (beyond the verifier's clock tolerance) is refused, `issued in
 * the future`, and listed `refused` for it, until its issue time comes; from then it lives no longer than it was issued for.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAccessControl } from '../adapters/http/auth/open-access-control.ts';
import { FakeClock } from '../adapters/runtime/index.ts';
import { runCli } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const DAY_MS = 86_400_000;
const dir = mkdtempSync(join(tmpdir(), 'credence-token-future-'));
let svc: TestService;
let ahead: { token: string; tokenId: string };
let nearlyNow: { token: string; tokenId: string };

/** An admin token for one hour issued on the service's folder by a clock `ms` ahead of the service's. */
const issuedAhead = async (ms: number): Promise<{ token: string; tokenId: string }> => {
  const local = await openAccessControl(dir, { clock: new FakeClock(new Date(Date.now() + ms)), tokens: { maxTtlSeconds: 3_600 } });
  try {
    return await local.access.issue({ subject: 'root', role: 'admin', ttlSeconds: 3_600, issuedBy: 'test' });
  } finally {
    local.close();
  }
};

beforeAll(async () => {
  svc = await startTestService({ dir, config: { tokens: { maxTtlSeconds: 3_600 } } });
  ahead = await issuedAhead(30 * DAY_MS);
  // Within the clock tolerance (whole seconds, issuer and verifier a moment apart): accepted as before.
  nearlyNow = await issuedAhead(2_000);
}, 60_000);
afterAll(async () => {
  await svc?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a token issued later than the service\'s clock says now', () => {
  it('is refused 401, issued in the future, not accepted for its days before its issue time', async () => {
    const response = await fetch(`${svc.url}/v1/tokens`, { headers: bearer(ahead.token) });
    const text = await response.text();
    expect(response.status, text).toBe(401);
    expect(text).toContain('issued in the future');
  });

  it('is accepted when issued within the clock tolerance of now', async () => {
    const response = await fetch(`${svc.url}/v1/tokens`, { headers: bearer(nearlyNow.token) });
    expect(response.status, await response.text()).toBe(200);
  });

  it('is listed refused, issued_in_the_future, by GET /v1/tokens and credence token list', async () => {
    const response = await fetch(`${svc.url}/v1/tokens?limit=1000`, { headers: bearer(svc.tokens.admin) });
    const { tokens } = (await response.json()) as { tokens: Array<Record<string, unknown>> };
    expect(tokens.find((t) => t['tokenId'] === ahead.tokenId)).toMatchObject({ state: 'refused', refusedBecause: 'issued_in_the_future' });
    expect(tokens.find((t) => t['tokenId'] === nearlyNow.tokenId)).toMatchObject({ state: 'active' });
    const listing = await runCli(['token', 'list', '--server', svc.url, '--token', svc.tokens.admin]);
    expect(listing.code, listing.err).toBe(0);
    expect(listing.out.split('\n').find((l) => l.startsWith(ahead.tokenId))).toMatch(/ admin +refused +\S+ +root \(refused: issued in the future: good from \d{4}-\d\d-\d\dT[\d:.]+Z; revoke it if the clock that issued it was wrong\)$/);
  });

  it('is accepted once its issue time has come, and for no longer than it was issued for', async () => {
    const later = await openAccessControl(dir, { clock: new FakeClock(new Date(Date.now() + 30 * DAY_MS + 60_000)), tokens: { maxTtlSeconds: 3_600 } });
    try {
      await expect(later.access.verify(ahead.token)).resolves.toMatchObject({ subject: 'root', tokenId: ahead.tokenId });
    } finally {
      later.close();
    }
    const expired = await openAccessControl(dir, { clock: new FakeClock(new Date(Date.now() + 30 * DAY_MS + 3_601_000)), tokens: { maxTtlSeconds: 3_600 } });
    try {
      await expect(expired.access.verify(ahead.token)).rejects.toMatchObject({ problem: { code: 'unauthorised' } });
    } finally {
      expired.close();
    }
  });
});
