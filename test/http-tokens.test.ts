import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAccessControl } from '../adapters/http/auth/open-access-control.ts';
import { INFRASTRUCTURE_ACTOR_ID, isReservedSubject } from '../adapters/http/auth/reserved-subjects.ts';
import { INFRASTRUCTURE_ACTOR } from '../adapters/http/start.ts';
import { secureEnvironmentConfigForDataDir } from '../adapters/driven/secure-environment/index.ts';
import { SYSTEM_ACTOR_IDS } from '../domain/metadata.ts';
import { FakeClock, openAccessRegistry } from '../adapters/runtime/index.ts';
import { startTestService, type TestService } from './support/service.ts';

const json = { 'content-type': 'application/json' };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** GET /healthz is public; /v1/tokens is admin-only, so its status tells what the access hook made of a token. */
const statusWith = async (svc: TestService, token: string): Promise<{ status: number; reason?: string }> => {
  const response = await fetch(`${svc.url}/v1/tokens`, { headers: bearer(token) });
  const body = (await response.json()) as { reason?: string };
  return { status: response.status, ...(body.reason !== undefined ? { reason: body.reason } : {}) };
};

/** The admin token's claims re-signed by someone else, or altered. */
const forgeries = async (genuine: string): Promise<Record<string, string>> => {
  const claims = decodeJwt(genuine);
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const otherKey = await new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' }).sign(privateKey);
  const [header, , signature] = genuine.split('.');
  const escalated = Buffer.from(JSON.stringify({ ...claims, role: 'admin', sub: 'mallory' })).toString('base64url');
  const flipped = signature!.startsWith('A') ? `B${signature!.slice(1)}` : `A${signature!.slice(1)}`;
  return {
    'signed with another key': otherKey,
    'claims altered': `${header}.${escalated}.${signature}`,
    'signature altered': `${header}.${genuine.split('.')[1]}.${flipped}`,
    'alg none': new UnsecuredJWT(claims).encode(),
    'not a JWT': 'hello',
  };
};

describe('API bearer tokens: issue, list, revoke; 401 for missing, expired, forged and revoked tokens', () => {
  const clock = new FakeClock(new Date());
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ clock });
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('issues a token through POST /v1/tokens (admin) that works at once, shown once and never listed', async () => {
    const response = await fetch(`${svc.url}/v1/tokens`, {
      method: 'POST',
      headers: { ...json, ...bearer(svc.tokens.admin) },
      body: JSON.stringify({ subject: 'alice', role: 'auditor', ttl: '24h' }),
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const issued = (await response.json()) as { token: string; tokenId: string; role: string; expiresAt: string };
    expect(issued.role).toBe('auditor');
    expect(Date.parse(issued.expiresAt) - clock.now().getTime()).toBeGreaterThan(23.9 * 3600_000);
    expect(decodeJwt(issued.token)).toMatchObject({ sub: 'alice', role: 'auditor', jti: issued.tokenId, iss: 'credence', aud: 'credence-api' });

    const listed = await fetch(`${svc.url}/v1/tokens?limit=100`, { headers: bearer(svc.tokens.admin) });
    const text = await listed.text();
    expect(listed.status).toBe(200);
    expect(text).not.toContain(issued.token);
    const { tokens } = JSON.parse(text) as { tokens: { tokenId: string; subject: string; state: string; issuedBy: string }[] };
    expect(tokens.find((t) => t.tokenId === issued.tokenId)).toMatchObject({ subject: 'alice', state: 'active', issuedBy: 'test-admin' });
  });

  it('refuses token management to every other role: 403', async () => {
    for (const role of ['operator', 'auditor', 'integrator'] as const) expect((await statusWith(svc, svc.tokens[role])).status).toBe(403);
  });

  it('refuses a bad token request with the field paths: ttl beyond the maximum, a reserved subject, an unknown role', async () => {
    const response = await fetch(`${svc.url}/v1/tokens`, {
      method: 'POST',
      headers: { ...json, ...bearer(svc.tokens.admin) },
      body: JSON.stringify({ subject: 'system:process-manager', role: 'root', ttl: '9999d' }),
    });
    expect(response.status).toBe(400);
    const problem = (await response.json()) as { errors: { path: string }[] };
    expect(problem.errors.map((e) => e.path).sort()).toEqual(['body.role', 'body.subject', 'body.ttl']);
  });

  it('answers 401 with a reason for a missing token and every forgery', async () => {
    const missing = await fetch(`${svc.url}/v1/tokens`);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="credence"');
    for (const [name, forged] of Object.entries(await forgeries(svc.tokens.admin))) {
      const result = await statusWith(svc, forged);
      expect({ name, status: result.status }).toEqual({ name, status: 401 });
      expect(result.reason).toBeDefined();
    }
  });

  it('answers 401 for an expired token', async () => {
    const issued = await svc.service.context.access.issue({ subject: 'bob', role: 'admin', ttlSeconds: 60, issuedBy: 'test' });
    expect((await statusWith(svc, issued.token)).status).toBe(200);
    clock.advance(120_000);
    expect(await statusWith(svc, issued.token)).toEqual({ status: 401, reason: 'expired' });
  });

  it('revokes through DELETE /v1/tokens/:id: 204, then 401 for that token; unknown id 404', async () => {
    const issued = await svc.service.context.access.issue({ subject: 'carol', role: 'admin', ttlSeconds: 600, issuedBy: 'test' });
    expect((await statusWith(svc, issued.token)).status).toBe(200);
    const revoked = await fetch(`${svc.url}/v1/tokens/${issued.tokenId}`, { method: 'DELETE', headers: bearer(svc.tokens.admin) });
    expect(revoked.status).toBe(204);
    expect(await statusWith(svc, issued.token)).toEqual({ status: 401, reason: 'revoked' });
    const unknown = await fetch(`${svc.url}/v1/tokens/tok_AAAAAAAAAAAAAAAAAAAAAA`, { method: 'DELETE', headers: bearer(svc.tokens.admin) });
    expect(unknown.status).toBe(404);
    // A token is not a stream: the problem names the token id, as `tokenId`.
    const problem = (await unknown.json()) as Record<string, unknown>;
    expect(problem).toMatchObject({ type: 'https://credence.dev/problems/not_found', status: 404, tokenId: 'tok_AAAAAAAAAAAAAAAAAAAAAA' });
    expect(problem).not.toHaveProperty('streamId');
    const listed = (await (await fetch(`${svc.url}/v1/tokens`, { headers: bearer(svc.tokens.admin) })).json()) as { tokens: { tokenId: string; state: string; revokedBy?: string }[] };
    expect(listed.tokens.find((t) => t.tokenId === issued.tokenId)).toMatchObject({ state: 'revoked', revokedBy: 'test-admin' });
  });

  it('shares the data folder with the CLI: a token issued locally works on the server, a local revocation counts at once', async () => {
    const local = await openAccessControl(svc.dir, { clock });
    try {
      const issued = await local.access.issue({ subject: 'dave', role: 'admin', ttlSeconds: 600, issuedBy: 'local:test' });
      expect((await statusWith(svc, issued.token)).status).toBe(200);
      expect(local.access.revoke(issued.tokenId, 'local:test')).toBe(true);
      expect(await statusWith(svc, issued.token)).toEqual({ status: 401, reason: 'revoked' });
    } finally {
      local.close();
    }
  });

  it('keeps the signing key and the token records across a restart', async () => {
    await svc.restart();
    expect((await statusWith(svc, svc.tokens.admin)).status).toBe(200);
  });

  // Issue 12 review: an admin could mint a token speaking as the expiry scheduler (`SYSTEM:…` passed a case-sensitive
  // check) or as the infrastructure (`maf:infrastructure`, the actor the Enrolment Function and the Registrar record).
  it.each([
    'system:process-manager',
    'SYSTEM:expiry-scheduler',
    'System:pseudonym-rotation',
    'system:anything',
    'maf:infrastructure',
    'MAF:Infrastructure',
    'maf:registrar',
  ])('refuses to issue a token for the reserved subject %s: 400 naming body.subject and the rule', async (subject) => {
    const response = await fetch(`${svc.url}/v1/tokens`, {
      method: 'POST',
      headers: { ...json, ...bearer(svc.tokens.admin) },
      body: JSON.stringify({ subject, role: 'operator', ttl: '1h' }),
    });
    expect(response.status).toBe(400);
    const problem = (await response.json()) as { errors: { path: string; rule: string; message: string }[] };
    expect(problem.errors).toEqual([{ path: 'body.subject', rule: 'reserved_subject', message: expect.stringMatching(/system:.*maf:/) }]);
    // The same rule without HTTP (`credence token create --data`).
    await expect(svc.service.context.access.issue({ subject, role: 'operator', ttlSeconds: 60, issuedBy: 'test' })).rejects.toMatchObject({
      problem: { code: 'validation', issues: [{ path: 'subject', rule: 'reserved_subject' }] },
    });
  });

  it('reserves every id the engine and the infrastructure act under, and nothing that merely starts alike', () => {
    expect(INFRASTRUCTURE_ACTOR.id).toBe(INFRASTRUCTURE_ACTOR_ID);
    for (const id of [INFRASTRUCTURE_ACTOR.id, ...SYSTEM_ACTOR_IDS, ` ${INFRASTRUCTURE_ACTOR.id.toUpperCase()} `]) expect({ id, reserved: isReservedSubject(id) }).toEqual({ id, reserved: true });
    for (const id of ['mafalda', 'systems-team', 'maf', 'system', 'alice@maf.example']) expect({ id, reserved: isReservedSubject(id) }).toEqual({ id, reserved: false });
  });

  it('answers 401 for a well-signed token the service has no record of', async () => {
    const registry = openAccessRegistry({ dir: svc.dir });
    try {
      registry.prune(new Date('9999-01-01T00:00:00Z'));
    } finally {
      registry.close();
    }
    expect(await statusWith(svc, svc.tokens.admin)).toEqual({ status: 401, reason: 'unknown token' });
  });
});

describe('a token living longer than tokens.maxTtlSeconds', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ config: { tokens: { maxTtlSeconds: 86_400 } } });
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('is refused with 401 naming the rule, however well signed: one minted by the CLI with the 90-day default', async () => {
    // `credence token create --data` issues with the default settings (at most 90 days), not the service's.
    const local = await openAccessControl(svc.dir);
    try {
      const long = await local.access.issue({ subject: 'erin', role: 'admin', ttlSeconds: 30 * 86_400, issuedBy: 'local:test' });
      expect(await statusWith(svc, long.token)).toEqual({ status: 401, reason: 'lifetime longer than tokens.maxTtlSeconds' });
      const withinLimit = await local.access.issue({ subject: 'erin', role: 'admin', ttlSeconds: 86_400, issuedBy: 'local:test' });
      expect((await statusWith(svc, withinLimit.token)).status).toBe(200);
    } finally {
      local.close();
    }
  });
});

describe('access.db naming a signing key the Secure Environment does not hold', () => {
  it('stops access control (and the service) with an error saying so and what to do, never a new key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credence-access-key-'));
    try {
      (await openAccessControl(dir)).close();
      // The Secure Environment of the folder is lost (or access.db was restored into another folder).
      const se = secureEnvironmentConfigForDataDir(dir);
      for (const file of [se.database, se.wrappingKeys!, (se.kek as { path: string }).path]) rmSync(file, { force: true });
      const refused = { problem: { code: 'validation', issues: [{ path: 'access.db: signingKey', rule: 'access_signing_key_present' }] } };
      await expect(openAccessControl(dir)).rejects.toMatchObject(refused);
      await expect(openAccessControl(dir)).rejects.toThrow(/signing key key_\S+ recorded in access\.db is missing from the data folder's Secure Environment.*restore/);
      // A folder served with a PKCS#11 Secure Environment, read by a command given none, is told so before anything is moved aside.
      await expect(openAccessControl(dir)).rejects.toThrow(/runs with a PKCS#11 Secure Environment \(docs\/hsm\.md\), give this command the same one \(CREDENCE_SECURE_ENVIRONMENT/);
      await expect(startTestService({ dir })).rejects.toMatchObject(refused);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
