import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openAccessRegistry } from '../adapters/runtime/index.ts';
import { openStream } from './http-sse.fixtures.ts';
import { useTestService } from './support/service.ts';

/*
 * Found in review: a short-lived admin token issued admin tokens of any lifetime, and revoking it left them working.
 * A leaked (or briefly exposed) bootstrap token could leave 90-day admin tokens behind that its revocation did not
 * end. Now a token issued through the service expires no later than the token it was issued with, names that token
 * (issuedWith), and the revocation of a token ends every token issued with it, down the chain.
 */

const json = { 'content-type': 'application/json' };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

interface Listed {
  tokenId: string;
  state: string;
  issuedWith?: string;
  revokedBy?: string;
}

describe('tokens issued through the service', () => {
  const svc = useTestService();

  const listed = async (): Promise<Listed[]> =>
    ((await (await fetch(`${svc.url}/v1/tokens?includeExpired=true&limit=1000`, { headers: bearer(svc.tokens.admin) })).json()) as { tokens: Listed[] }).tokens;
  const issueWith = (token: string, body: Record<string, unknown>) =>
    fetch(`${svc.url}/v1/tokens`, { method: 'POST', headers: { ...json, ...bearer(token) }, body: JSON.stringify(body) });
  const statusWith = async (token: string) => (await fetch(`${svc.url}/v1/entities/counts`, { headers: bearer(token) })).status;

  it('expire no later than the token they are issued with: longer is 400 on body.ttl, and nothing is recorded', async () => {
    const short = await svc.service.context.access.issue({ subject: 'short-admin', role: 'admin', ttlSeconds: 60, issuedBy: 'test' });
    const before = await listed();
    const refused = await issueWith(short.token, { subject: 'persist', role: 'admin', ttl: '90d' });
    expect(refused.status).toBe(400);
    const problem = (await refused.json()) as { errors: { path: string; rule: string; message: string }[] };
    expect(problem.errors).toEqual([expect.objectContaining({ path: 'body.ttl', rule: 'within_issuer_lifetime' })]);
    expect(problem.errors[0]!.message).toMatch(/^at most \d+ seconds: a token cannot outlive the token that issues it/);
    expect(await listed()).toEqual(before);

    const within = await issueWith(short.token, { subject: 'brief', role: 'auditor', ttl: '30s' });
    expect(within.status).toBe(201);
    const issued = (await within.json()) as { tokenId: string; expiresAt: string };
    expect(Date.parse(issued.expiresAt)).toBeLessThanOrEqual(short.expiresAt.getTime());
    expect((await listed()).find((t) => t.tokenId === issued.tokenId)).toMatchObject({ issuedWith: short.tokenId, state: 'active' });
  });

  it('end with the token they were issued with, down the chain, and their event streams with them; others go on', async () => {
    const root = await svc.service.context.access.issue({ subject: 'root-admin', role: 'admin', ttlSeconds: 3_600, issuedBy: 'test' });
    const sibling = await svc.service.context.access.issue({ subject: 'root-admin', role: 'admin', ttlSeconds: 3_600, issuedBy: 'test' });
    const child = (await (await issueWith(root.token, { subject: 'child-admin', role: 'admin', ttl: '30m' })).json()) as { token: string; tokenId: string };
    const grandchild = (await (await issueWith(child.token, { subject: 'grandchild', role: 'integrator', ttl: '10m' })).json()) as { token: string; tokenId: string };
    const apart = (await (await issueWith(sibling.token, { subject: 'apart', role: 'auditor', ttl: '10m' })).json()) as { token: string; tokenId: string };
    const stream = await openStream(svc.url, grandchild.token, '/v1/events?from=end');
    try {
      expect(stream.status).toBe(200);
      const revoked = await fetch(`${svc.url}/v1/tokens/${root.tokenId}`, { method: 'DELETE', headers: bearer(svc.tokens.admin) });
      expect(revoked.status).toBe(204);
      await stream.ended;
      expect(stream.frames.at(-1)).toMatchObject({ kind: 'event', event: 'dropped' });
    } finally {
      stream.close();
    }
    for (const token of [root.token, child.token, grandchild.token]) expect(await statusWith(token)).toBe(401);
    expect(await statusWith(apart.token)).toBe(200);
    const byId = new Map((await listed()).map((t) => [t.tokenId, t]));
    for (const id of [root.tokenId, child.tokenId, grandchild.tokenId]) expect(byId.get(id)).toMatchObject({ state: 'revoked', revokedBy: 'test-admin' });
    expect(byId.get(grandchild.tokenId)).toMatchObject({ issuedWith: child.tokenId });
    expect(byId.get(sibling.tokenId)).toMatchObject({ state: 'active' });
  });
});

describe('a token issued with one revoked meanwhile', () => {
  const svc = useTestService();

  it('is not issued: the revocation between the issuer\'s check and the record wins (found in review: the child lived)', async () => {
    const access = svc.service.context.access;
    const root = await access.issue({ subject: 'leaked-admin', role: 'admin', ttlSeconds: 3_600, issuedBy: 'test' });
    const principal = await access.verify(root.token);
    expect(access.revoke(root.tokenId, 'test-admin')).toBe(true);
    const before = access.list({ limit: 1_000, includeExpired: true }).tokens.length;
    await expect(access.issue({ subject: 'persist', role: 'admin', ttlSeconds: 600, issuedBy: principal.subject, issuer: principal })).rejects.toMatchObject({
      problem: { code: 'unauthorised' },
    });
    expect(access.list({ limit: 1_000, includeExpired: true }).tokens.length).toBe(before);
  });

  it('signing out ends the signer\'s token alone: tokens it issued for others stand (found in review: revoked with it)', async () => {
    const admin = await svc.service.context.access.issue({ subject: 'signing-out-admin', role: 'admin', ttlSeconds: 3_600, issuedBy: 'test' });
    const issued = await fetch(`${svc.url}/v1/tokens`, { method: 'POST', headers: { ...json, ...bearer(admin.token) }, body: JSON.stringify({ subject: 'alice', role: 'auditor', ttl: '30m' }) });
    const alice = (await issued.json()) as { token: string };
    expect((await fetch(`${svc.url}/v1/session`, { method: 'DELETE', headers: bearer(admin.token) })).status).toBe(204);
    expect((await fetch(`${svc.url}/v1/entities/counts`, { headers: bearer(admin.token) })).status).toBe(401);
    expect((await fetch(`${svc.url}/v1/entities/counts`, { headers: bearer(alice.token) })).status).toBe(200);
  });
});

describe('access.db written by the earlier version (schema 1)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-access-v1-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('opens, upgraded to the current schema (4): its tokens name no issuer, and revoke as before', () => {
    const old = new Database(join(dir, 'access.db'));
    old.exec(`CREATE TABLE tokens (seq INTEGER PRIMARY KEY AUTOINCREMENT, token_id TEXT NOT NULL UNIQUE, subject TEXT NOT NULL, role TEXT NOT NULL,
      issued_at TEXT NOT NULL, expires_at TEXT NOT NULL, issued_by TEXT NOT NULL, revoked_at TEXT, revoked_by TEXT);
      CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      PRAGMA user_version = 1;`);
    const tokenId = `tok_${'B'.repeat(22)}`;
    old.prepare('INSERT INTO tokens (token_id, subject, role, issued_at, expires_at, issued_by) VALUES (?, ?, ?, ?, ?, ?)').run(
      tokenId, 'alice', 'auditor', '2026-01-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z', 'cli',
    );
    old.close();
    const registry = openAccessRegistry({ dir });
    try {
      expect(registry.find(tokenId)).toMatchObject({ subject: 'alice', role: 'auditor' });
      expect(registry.find(tokenId)!.issuedWith).toBeUndefined();
      expect(registry.revoke(tokenId, new Date('2026-06-01T00:00:00Z'), 'admin')).toEqual([tokenId]);
      expect(registry.revoke(tokenId, new Date('2026-06-02T00:00:00Z'), 'admin')).toEqual([]);
    } finally {
      registry.close();
    }
    const reopened = new Database(join(dir, 'access.db'), { readonly: true });
    expect(reopened.pragma('user_version', { simple: true })).toBe(4);
    reopened.close();
  });
});
