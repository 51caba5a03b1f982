import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 56 finding 5: one access.db row whose `scope` did not parse (damaged, or edited by hand) made listing throw,
 * so GET /v1/tokens and `credence token list` failed for every admin until that token expired, even once revoked.
 * The list shows the row with its scope marked damaged (`scopeDamaged: true`, no scope); the token itself is still
 * refused (401): an unreadable scope is never read as none, which is the whole fleet.
 */

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let svc: TestService;
let damaged: { token: string; tokenId: string };
beforeAll(async () => {
  svc = await startTestService();
  const issued = await fetch(`${svc.url}/v1/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer(svc.tokens.admin) },
    body: JSON.stringify({ subject: 'city-01', role: 'integrator', ttl: '1h', scope: { subscriptions: ['sub-01'] } }),
  });
  expect(issued.status).toBe(201);
  damaged = (await issued.json()) as { token: string; tokenId: string };
  // As a hand edit leaves it: not JSON at all.
  const db = new Database(join(svc.dir, 'access.db'));
  try {
    expect(db.prepare('UPDATE tokens SET scope = ? WHERE token_id = ?').run('{"subscriptions": [sub-01', damaged.tokenId).changes).toBe(1);
  } finally {
    db.close();
  }
}, 30_000);
afterAll(async () => {
  await svc?.close();
});

const listed = async (): Promise<Array<Record<string, unknown>>> => {
  const response = await fetch(`${svc.url}/v1/tokens?limit=1000`, { headers: bearer(svc.tokens.admin) });
  expect(response.status).toBe(200);
  return ((await response.json()) as { tokens: Array<Record<string, unknown>> }).tokens;
};

const cliList = async (...flags: string[]) => {
  const c = capture();
  const code = await main(['token', 'list', ...flags], { ...c.io, env: { CREDENCE_URL: svc.url, CREDENCE_TOKEN: svc.tokens.admin } });
  return { code, out: c.out, err: c.err.join('\n') };
};

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
    expect(row).toMatchObject({ tokenId: damaged.tokenId, subject: 'city-01', role: 'integrator', state: 'active', scopeDamaged: true });
    expect(row['issuedAt']).toEqual(expect.any(String));
    expect(row['expiresAt']).toEqual(expect.any(String));
    expect(row).not.toHaveProperty('scope');
  });

  it('is listed by credence token list, as text and as JSON, marked damaged', async () => {
    const text = await cliList();
    expect(text.code, text.err).toBe(0);
    const line = text.out.find((l) => l.startsWith(damaged.tokenId))!;
    expect(line).toMatch(/city-01 \(scope damaged: revoke this token\)$/);
    const asJson = await cliList('--json');
    expect(asJson.code, asJson.err).toBe(0);
    const page = JSON.parse(asJson.out.join('\n')) as { tokens: Array<Record<string, unknown>> };
    expect(page.tokens.find((t) => t['tokenId'] === damaged.tokenId)).toMatchObject({ scopeDamaged: true });
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
