/**
 * Review 158 (F3): tokens issued for 24 h, the service then restarted with `tokens.maxTtlSeconds: 3600` (as the docs
 * suggest, to end longer-lived tokens), were refused 401 on every request, yet GET /v1/tokens and `credence token list`
 * listed them `active`, they held their subject's places (`tokens.maxActivePerSubject`: a new 30-minute token was
 * refused `active_tokens`), and they kept a retired signing key from being destroyed until they expired. Same for a
 * token whose subject is reserved. The listing, the subject's count and the signing key's count now judge a token by
 * the verifier's own rule (token-refusal.ts): listed `refused` with `refusedBecause`, counted nowhere.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAccessRegistry } from '../adapters/runtime/index.ts';
import { startTestService, type TestService } from './support/service.ts';
import { runCli } from './support/cli.ts';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const dir = mkdtempSync(join(tmpdir(), 'credence-token-refused-'));
let svc: TestService;
let admin: string;
const alice: Array<{ token: string; tokenId: string }> = [];
let retiredKid: string;
const reservedId = 'tok_reservedreservedreserv';

const issue = async (subject: string, ttl: string) => {
  const response = await fetch(`${svc.url}/v1/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer(admin) },
    body: JSON.stringify({ subject, role: 'auditor', ttl }),
  });
  return { status: response.status, body: (await response.json()) as { token: string; tokenId: string } & Record<string, unknown> };
};
const listed = async (): Promise<Array<Record<string, unknown>>> => {
  const response = await fetch(`${svc.url}/v1/tokens?limit=1000`, { headers: bearer(admin) });
  expect(response.status).toBe(200);
  return ((await response.json()) as { tokens: Array<Record<string, unknown>> }).tokens;
};

beforeAll(async () => {
  // Before: the default settings. Bob holds a 24 h token signed by a key since retired; alice holds two 24 h tokens
  // signed by the key that took over.
  svc = await startTestService({ dir, config: { tokens: { maxActivePerSubject: 2 } } });
  admin = svc.tokens.admin;
  expect((await issue('bob', '24h')).status).toBe(201);
  const rotation = await svc.service.context.access.rotateSigningKey('test', { withdrawPrevious: false });
  expect(rotation.previous).toMatchObject([{ state: 'retired' }]);
  retiredKid = rotation.previous[0]!.kid;
  for (let i = 0; i < 2; i++) {
    const issued = await issue('alice', '24h');
    expect(issued.status).toBe(201);
    alice.push(issued.body);
  }
  await svc.close();
  // After: restarted with tokens.maxTtlSeconds lowered to an hour; a token under a reserved subject edited in.
  svc = await startTestService({ dir, config: { tokens: { maxActivePerSubject: 2, maxTtlSeconds: 3_600 } } });
  admin = svc.tokens.admin;
  const registry = openAccessRegistry({ dir });
  try {
    const now = Date.now();
    const recorded = registry.record({
      tokenId: reservedId,
      subject: 'maf:infrastructure',
      role: 'operator',
      issuedAt: new Date(Math.floor(now / 1000) * 1000),
      expiresAt: new Date(Math.floor(now / 1000) * 1000 + 1_800_000),
      issuedBy: 'hand edit',
      signedWith: registry.currentSigningKey()!,
      maxActiveForSubject: 100,
    });
    expect(recorded).toBe('recorded');
  } finally {
    registry.close();
  }
}, 60_000);
afterAll(async () => {
  await svc?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a token the current settings refuse', () => {
  it('is refused 401 on every request, its lifetime longer than tokens.maxTtlSeconds', async () => {
    for (const { token } of alice) {
      const response = await fetch(`${svc.url}/v1/entities/counts`, { headers: bearer(token) });
      expect(response.status).toBe(401);
      expect(await response.text()).toContain('lifetime longer than tokens.maxTtlSeconds');
    }
  });

  it('is listed by GET /v1/tokens as refused, saying why, never active', async () => {
    const tokens = await listed();
    for (const { tokenId } of alice) {
      expect(tokens.find((t) => t['tokenId'] === tokenId)).toMatchObject({ subject: 'alice', state: 'refused', refusedBecause: 'lifetime_too_long' });
    }
    expect(tokens.find((t) => t['tokenId'] === reservedId)).toMatchObject({ state: 'refused', refusedBecause: 'reserved_subject' });
    // The admin token of this service, within the limit, stays active and says nothing of a refusal.
    const active = tokens.find((t) => t['subject'] === 'test-admin' && t['state'] === 'active');
    expect(active).toBeDefined();
    expect(active).not.toHaveProperty('refusedBecause');
  });

  it('holds none of its subject\'s places: alice is issued tokens that work, up to tokens.maxActivePerSubject', async () => {
    const first = await issue('alice', '30m');
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    const works = await fetch(`${svc.url}/v1/entities/counts`, { headers: bearer(first.body.token) });
    expect(works.status).toBe(200);
    await works.arrayBuffer();
    expect((await issue('alice', '30m')).status).toBe(201);
    const third = await issue('alice', '30m');
    expect(third.status).toBe(400);
    expect(JSON.stringify(third.body)).toContain('alice holds 2 active tokens');
  });

  it('keeps no retired signing key: the key that signed only such tokens (bob\'s, the first service\'s) was destroyed', async () => {
    const rotation = await svc.service.context.access.rotateSigningKey('test', { withdrawPrevious: false });
    expect(rotation.previous.find((k) => k.kid === retiredKid)?.state ?? 'gone').not.toBe('retired');
    expect((await listed()).find((t) => t['subject'] === 'bob')).toMatchObject({ state: 'refused', refusedBecause: 'lifetime_too_long' });
    // The key this rotation retired signed the tokens issued since, which are live: it is kept, and counts them.
    expect(rotation.previous.find((k) => k.kid !== retiredKid)).toMatchObject({ state: 'retired' });
    expect(rotation.previous.find((k) => k.kid !== retiredKid)!.liveTokens).toBeGreaterThanOrEqual(2);
  });

  it('is listed refused, saying why, by credence token list through the service and on the data folder', async () => {
    const config = join(dir, 'credence.json');
    writeFileSync(config, JSON.stringify({ data: dir, tokens: { maxTtlSeconds: 3_600 } }));
    for (const flags of [['--server', svc.url], ['--config', config]]) {
      const listing = await runCli(['token', 'list', ...flags, ...(flags[0] === '--server' ? ['--token', admin] : [])]);
      expect(listing.code, listing.err).toBe(0);
      for (const { tokenId } of alice) {
        expect(listing.out.split('\n').find((l) => l.startsWith(tokenId)), flags.join(' ')).toMatch(/ auditor +refused +\S+ +alice \(refused: lifetime too long: revoke this token\)$/);
      }
      const json = await runCli(['token', 'list', ...flags, '--json', ...(flags[0] === '--server' ? ['--token', admin] : [])]);
      const rows = (JSON.parse(json.out) as { tokens: Array<Record<string, unknown>> }).tokens;
      expect(rows.find((t) => t['tokenId'] === reservedId)).toMatchObject({ state: 'refused', refusedBecause: 'reserved_subject' });
    }
  });
});

describe('a local token command, whose settings need not be the service\'s', () => {
  it('destroys no retired key that signed a token the service still accepts, whatever its own tokens.maxTtlSeconds', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'credence-token-refused-local-'));
    const config = { tokens: { maxTtlSeconds: 400 * 86_400 } };
    try {
      // The service issues for up to 400 days: carol's 200-day token, then a rotation retires the key that signed it.
      let service = await startTestService({ dir: folder, config });
      const { access } = service.service.context;
      const carol = await access.issue({ subject: 'carol', role: 'auditor', ttlSeconds: 200 * 86_400, issuedBy: 'test' });
      // Carol's is the one token that key signed that is not revoked (the test service's own are).
      for (const t of access.list({ limit: 1_000 }).tokens) if (t.subject !== 'carol') access.revoke(t.tokenId, 'test', { alone: true });
      await access.rotateSigningKey('test', { withdrawPrevious: false });
      await service.close();
      // A local command with the default settings (90 days) would refuse carol's token; it prunes retired keys.
      const created = await runCli(['token', 'create', '--data', folder, '--role', 'auditor', '--subject', 'dave', '--ttl', '1h']);
      expect(created.code, created.err).toBe(0);
      // Nor does its listing call the token's lifetime too long without the service's --config to judge it by.
      const listing = await runCli(['token', 'list', '--data', folder, '--json']);
      expect(listing.code, listing.err).toBe(0);
      expect((JSON.parse(listing.out) as { tokens: Array<Record<string, unknown>> }).tokens.find((t) => t['tokenId'] === carol.tokenId)).toMatchObject({ state: 'active' });
      service = await startTestService({ dir: folder, config });
      try {
        const response = await fetch(`${service.url}/v1/entities/counts`, { headers: bearer(carol.token) });
        expect(response.status, await response.text()).toBe(200);
      } finally {
        await service.close();
      }
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
