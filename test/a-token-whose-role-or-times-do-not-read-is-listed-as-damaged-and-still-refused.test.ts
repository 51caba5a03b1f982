import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';
import { tokenListings } from './support/token-listings.ts';

/*
 * Review 90 finding 2: one access.db row with a role this version does not know (or an issued_at / expires_at that
 * does not read as an instant) made GET /v1/tokens answer 500 for the whole list, and `credence token list` fail, so
 * no admin could see, let alone revoke, any token. As review 56 did for a damaged scope: the row is listed, marked
 * `recordDamaged: true`, what does not read left out, state `refused` unless revoked (or known expired); the token
 * itself is refused (401).
 */

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let svc: TestService;
/** Its role `superuser`, a role this version does not know. */
let unknownRole: { token: string; tokenId: string };
/** Its issued_at not an instant. */
let badIssuedAt: { token: string; tokenId: string };
/** Its expires_at not an instant. */
let badExpiresAt: { token: string; tokenId: string };
const issue = async (subject: string) => {
  const issued = await fetch(`${svc.url}/v1/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer(svc.tokens.admin) },
    body: JSON.stringify({ subject, role: 'operator', ttl: '1h' }),
  });
  expect(issued.status).toBe(201);
  return (await issued.json()) as { token: string; tokenId: string };
};
beforeAll(async () => {
  svc = await startTestService();
  unknownRole = await issue('ops-01');
  badIssuedAt = await issue('ops-02');
  badExpiresAt = await issue('ops-03');
  // As a newer version, or a hand edit, leaves them.
  const db = new Database(join(svc.dir, 'access.db'));
  try {
    expect(db.prepare(`UPDATE tokens SET role = 'superuser' WHERE token_id = ?`).run(unknownRole.tokenId).changes).toBe(1);
    expect(db.prepare(`UPDATE tokens SET issued_at = 'yesterday' WHERE token_id = ?`).run(badIssuedAt.tokenId).changes).toBe(1);
    expect(db.prepare(`UPDATE tokens SET expires_at = 'never' WHERE token_id = ?`).run(badExpiresAt.tokenId).changes).toBe(1);
  } finally {
    db.close();
  }
}, 30_000);
afterAll(async () => {
  await svc?.close();
});

const { listed, cliList } = tokenListings(() => svc);

const rowOf = (tokens: Array<Record<string, unknown>>, tokenId: string) => tokens.find((t) => t['tokenId'] === tokenId);

describe('an access.db row whose role or times do not read', () => {
  it('is refused as a bearer token (401)', async () => {
    for (const damaged of [unknownRole, badIssuedAt, badExpiresAt]) {
      const response = await fetch(`${svc.url}/v1/entities/counts`, { headers: bearer(damaged.token) });
      expect(response.status, damaged.tokenId).toBe(401);
      await response.body?.cancel();
    }
  });

  it('is listed by GET /v1/tokens (200), marked recordDamaged and refused, what does not read left out', async () => {
    const tokens = await listed();
    expect(rowOf(tokens, unknownRole.tokenId)).toMatchObject({ subject: 'ops-01', recordDamaged: true, state: 'refused', expiresAt: expect.any(String) });
    expect(rowOf(tokens, unknownRole.tokenId)).not.toHaveProperty('role');
    expect(rowOf(tokens, badIssuedAt.tokenId)).toMatchObject({ subject: 'ops-02', role: 'operator', recordDamaged: true, state: 'refused' });
    expect(rowOf(tokens, badIssuedAt.tokenId)).not.toHaveProperty('issuedAt');
    expect(rowOf(tokens, badExpiresAt.tokenId)).toMatchObject({ subject: 'ops-03', role: 'operator', recordDamaged: true, state: 'refused' });
    expect(rowOf(tokens, badExpiresAt.tokenId)).not.toHaveProperty('expiresAt');
  });

  it('leaves the other tokens as they were, none of them marked', async () => {
    const others = (await listed()).filter((t) => ![unknownRole, badIssuedAt, badExpiresAt].some((d) => d.tokenId === t['tokenId']));
    expect(others.length).toBeGreaterThan(0);
    for (const t of others) {
      expect(t).not.toHaveProperty('recordDamaged');
      expect(t['state']).toBe('active');
    }
  });

  it('is listed by credence token list, through the server and on the data folder, as text and as JSON', async () => {
    for (const flags of [[], ['--data', svc.dir]]) {
      const text = await cliList(...flags);
      expect(text.code, text.err).toBe(0);
      expect(text.out.find((l) => l.startsWith(unknownRole.tokenId))).toMatch(/ \? +refused +\S+ +ops-01 \(record damaged: revoke this token\)$/);
      expect(text.out.find((l) => l.startsWith(badExpiresAt.tokenId))).toMatch(/ operator +refused +\? +ops-03 \(record damaged: revoke this token\)$/);
      const asJson = await cliList(...flags, '--json');
      expect(asJson.code, asJson.err).toBe(0);
      const { tokens } = JSON.parse(asJson.out.join('\n')) as { tokens: Array<Record<string, unknown>> };
      expect(rowOf(tokens, unknownRole.tokenId)).toMatchObject({ state: 'refused', recordDamaged: true });
    }
  });

  it('once revoked, is listed revoked, still marked, and still refused', async () => {
    const revoked = await fetch(`${svc.url}/v1/tokens/${unknownRole.tokenId}`, { method: 'DELETE', headers: bearer(svc.tokens.admin) });
    expect(revoked.status).toBe(204);
    expect(rowOf(await listed(), unknownRole.tokenId)).toMatchObject({ state: 'revoked', recordDamaged: true, revokedAt: expect.any(String) });
    const response = await fetch(`${svc.url}/v1/entities/counts`, { headers: bearer(unknownRole.token) });
    expect(response.status).toBe(401);
    await response.body?.cancel();
  });
  it('ends what a request or stream holds open with it once its record stops reading, as a damaged scope does', async () => {
    const { token, tokenId } = await issue('ops-04');
    const access = svc.service.context.access;
    const principal = await access.verify(token);
    expect(access.remainingMs(principal)).toBeGreaterThan(0);
    const db = new Database(join(svc.dir, 'access.db'));
    try {
      expect(db.prepare(`UPDATE tokens SET role = 'superuser' WHERE token_id = ?`).run(tokenId).changes).toBe(1);
    } finally {
      db.close();
    }
    expect(access.remainingMs(principal)).toBe(0);
  });
});
