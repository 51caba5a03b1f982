import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';
import { tokenListings } from './support/token-listings.ts';

/*
 * Review 56 finding 5: one access.db row whose `scope` did not parse (damaged, or edited by hand) made listing throw,
 * so GET /v1/tokens and `credence token list` failed for every admin until that token expired, even once revoked.
 * The list shows the row with its scope marked damaged (`scopeDamaged: true`, no scope); the token itself is still
 * refused (401): an unreadable scope is never read as none, which is the whole fleet. Its state is `refused`, not
 * `active` (found in review: an admin reading the list took it for a working token); revoked or expired say more and
 * stay so.
 */

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let svc: TestService;
let damaged: { token: string; tokenId: string };
/** Damaged too, and past its expiry (within the days expired tokens stay listed). */
let damagedExpired: { token: string; tokenId: string };
beforeAll(async () => {
  svc = await startTestService();
  const issue = async (subject: string) => {
    const issued = await fetch(`${svc.url}/v1/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(svc.tokens.admin) },
      body: JSON.stringify({ subject, role: 'integrator', ttl: '1h', scope: { subscriptions: ['sub-01'] } }),
    });
    expect(issued.status).toBe(201);
    return (await issued.json()) as { token: string; tokenId: string };
  };
  damaged = await issue('city-01');
  damagedExpired = await issue('city-02');
  // As a hand edit leaves it: not JSON at all.
  const db = new Database(join(svc.dir, 'access.db'));
  try {
    const damage = db.prepare('UPDATE tokens SET scope = ? WHERE token_id = ?');
    expect(damage.run('{"subscriptions": [sub-01', damaged.tokenId).changes).toBe(1);
    expect(damage.run('{"subscriptions": [sub-01', damagedExpired.tokenId).changes).toBe(1);
    const anHourAgo = new Date(Date.now() - 3_600_000).toISOString();
    expect(db.prepare('UPDATE tokens SET expires_at = ? WHERE token_id = ?').run(anHourAgo, damagedExpired.tokenId).changes).toBe(1);
  } finally {
    db.close();
  }
}, 30_000);
afterAll(async () => {
  await svc?.close();
});

const { listed, cliList } = tokenListings(() => svc);

describe('an access.db row whose scope does not parse', () => {
  it('is refused as a bearer token (401), never taken for a token of the whole fleet', async () => {
    const response = await fetch(`${svc.url}/v1/events?from=end`, { headers: bearer(damaged.token) });
    expect(response.status).toBe(401);
    await response.body?.cancel();
  });

  it('is listed by GET /v1/tokens with its id, subject, role and times, its scope marked damaged, beside the others', async () => {
    const tokens = await listed();
    expect(tokens.length).toBeGreaterThan(1);
    const row = tokens.find((t) => t['tokenId'] === damaged.tokenId)!;
    expect(row).toMatchObject({ tokenId: damaged.tokenId, subject: 'city-01', role: 'integrator', scopeDamaged: true });
    expect(row['issuedAt']).toEqual(expect.any(String));
    expect(row['expiresAt']).toEqual(expect.any(String));
    expect(row).not.toHaveProperty('scope');
  });

  it('is listed by GET /v1/tokens as refused, not active, while the tokens that work stay active', async () => {
    const tokens = await listed();
    expect(tokens.find((t) => t['tokenId'] === damaged.tokenId)).toMatchObject({ state: 'refused', scopeDamaged: true });
    expect(tokens.filter((t) => t['tokenId'] !== damaged.tokenId).map((t) => t['state'])).not.toContain('refused');
    expect(tokens.filter((t) => t['tokenId'] !== damaged.tokenId).map((t) => t['state'])).toContain('active');
  });

  it('once expired, is listed expired (with includeExpired=true), scope still marked damaged', async () => {
    expect((await listed()).map((t) => t['tokenId'])).not.toContain(damagedExpired.tokenId);
    expect((await listed('&includeExpired=true')).find((t) => t['tokenId'] === damagedExpired.tokenId)).toMatchObject({ state: 'expired', scopeDamaged: true });
  });

  it('is listed by credence token list, as text and as JSON, refused and marked damaged', async () => {
    const text = await cliList();
    expect(text.code, text.err).toBe(0);
    const line = text.out.find((l) => l.startsWith(damaged.tokenId))!;
    expect(line).toMatch(/ integrator +refused +\S+ +city-01 \(scope damaged: revoke this token\)$/);
    const asJson = await cliList('--json');
    expect(asJson.code, asJson.err).toBe(0);
    const page = JSON.parse(asJson.out.join('\n')) as { tokens: Array<Record<string, unknown>> };
    expect(page.tokens.find((t) => t['tokenId'] === damaged.tokenId)).toMatchObject({ state: 'refused', scopeDamaged: true });
  });

  it('is listed refused by credence token list on the data folder (--data), as text and as JSON', async () => {
    const text = await cliList('--data', svc.dir);
    expect(text.code, text.err).toBe(0);
    expect(text.out.find((l) => l.startsWith(damaged.tokenId))).toMatch(/ integrator +refused +\S+ +city-01 \(scope damaged: revoke this token\)$/);
    const asJson = await cliList('--data', svc.dir, '--json', '--all');
    expect(asJson.code, asJson.err).toBe(0);
    const { tokens } = JSON.parse(asJson.out.join('\n')) as { tokens: Array<Record<string, unknown>> };
    expect(tokens.find((t) => t['tokenId'] === damaged.tokenId)).toMatchObject({ state: 'refused', scopeDamaged: true });
    expect(tokens.find((t) => t['tokenId'] === damagedExpired.tokenId)).toMatchObject({ state: 'expired', scopeDamaged: true });
  });

  it('once revoked, is still listed (revoked, scope damaged) and still refused', async () => {
    const revoked = await fetch(`${svc.url}/v1/tokens/${damaged.tokenId}`, { method: 'DELETE', headers: bearer(svc.tokens.admin) });
    expect(revoked.status).toBeLessThan(300);
    expect((await listed()).find((t) => t['tokenId'] === damaged.tokenId)).toMatchObject({ state: 'revoked', scopeDamaged: true });
    const response = await fetch(`${svc.url}/v1/events?from=end`, { headers: bearer(damaged.token) });
    expect(response.status).toBe(401);
    await response.body?.cancel();
  });
});
