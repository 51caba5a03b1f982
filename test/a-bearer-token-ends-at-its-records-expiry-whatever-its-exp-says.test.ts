import Database from 'better-sqlite3';
import { generateKeyPairSync, sign } from 'node:crypto';
import { join } from 'node:path';
import { importJWK, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signJwt } from '../adapters/http/auth/jwt.ts';
import type { SigningKeys } from '../adapters/http/auth/signing-keys.ts';
import { tokenVerifier } from '../adapters/http/auth/token-verifier.ts';
import type { AccessRegistry, TokenRecord } from '../adapters/runtime/index.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 127: the bearer-token check compared subject, role and signing key with the token's record in access.db,
 * never the record's expiry. Whoever held the signing key (a retired one after a plain `token rotate-key` verifies
 * until the last token it signed expires) could sign an unrevoked token whose record had expired (records are kept 30
 * days) again with a fresh iat/exp, and it was accepted while `credence token list` showed it `expired`. The record's
 * expiry is the token's: refused once it passes, and a token whose `exp` lies after it is refused too.
 */

const DAY_MS = 86_400_000;
const settings = { issuer: 'credence-test', audience: 'credence-test-api' };
const tokenId = 'tok_AAAAAAAAAAAAAAAAAAAAAA';
const kid = 'kid-1';

describe('tokenVerifier holds a token to its record\'s expiry', () => {
  const now = new Date('2026-12-05T00:00:00.000Z');
  const seconds = Math.floor(now.getTime() / 1000);
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  let verification: CryptoKey;
  beforeAll(async () => {
    verification = (await importJWK(publicKey.export({ format: 'jwk' }) as { kty: string }, 'EdDSA')) as CryptoKey;
  });
  const keys = {
    verificationKey: async (k: string) => (k === kid ? verification : undefined),
    handleOf: (k: string) => (k === kid ? 'key-1' : undefined),
  } as unknown as SigningKeys;
  const verifierOver = (expiresAt: Date) => {
    const record: TokenRecord = {
      tokenId,
      subject: 'alice',
      role: 'operator',
      issuedAt: new Date(expiresAt.getTime() - DAY_MS),
      expiresAt,
      issuedBy: 'admin',
      signedWith: 'key-1',
    };
    const registry = { find: (id: string) => (id === tokenId ? record : undefined) } as unknown as AccessRegistry;
    return tokenVerifier({ registry, clock: { now: () => now }, keys, settings, maxTtlSeconds: 30 * 86_400 });
  };
  const signed = (iat: number, exp: number) =>
    signJwt({ kid, sign: async (input) => new Uint8Array(sign(null, input, privateKey)) }, { ...settings, claims: { sub: 'alice', role: 'operator', jti: tokenId, iat, exp } });

  it('refuses a token whose record expired two days ago, signed again with a fresh iat and exp (the review\'s proof)', async () => {
    const verify = verifierOver(new Date(now.getTime() - 2 * DAY_MS));
    await expect(verify(await signed(seconds, seconds + 3600))).rejects.toMatchObject({ problem: { code: 'unauthorised', reason: 'expired' } });
  });

  it('refuses a token whose exp lies after its record\'s expiry, a longer life than was issued', async () => {
    const verify = verifierOver(new Date(now.getTime() + 600_000));
    await expect(verify(await signed(seconds, seconds + 3600))).rejects.toMatchObject({ problem: { code: 'unauthorised', reason: 'does not match its record' } });
  });

  it('refuses a token from the instant its record expires, as token list calls it expired', async () => {
    const verify = verifierOver(now);
    await expect(verify(await signed(seconds - 3600, seconds))).rejects.toMatchObject({ problem: { code: 'unauthorised', reason: 'expired' } });
  });

  it('accepts a token whose exp is its record\'s expiry, still ahead', async () => {
    const verify = verifierOver(new Date((seconds + 3600) * 1000));
    await expect(verify(await signed(seconds, seconds + 3600))).resolves.toMatchObject({ subject: 'alice', role: 'operator', tokenId });
  });
});

describe('over HTTP, a token whose record in access.db expired', () => {
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  let svc: TestService;
  const issue = async (subject: string) => {
    const issued = await fetch(`${svc.url}/v1/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(svc.tokens.admin) },
      body: JSON.stringify({ subject, role: 'operator', ttl: '1h' }),
    });
    expect(issued.status).toBe(201);
    return (await issued.json()) as { token: string; tokenId: string };
  };
  /** Sets the record's expiry, as an expiry that passed (or a hand edit) leaves it; the token itself is unchanged. */
  const recordExpires = (id: string, at: Date) => {
    const db = new Database(join(svc.dir, 'access.db'));
    try {
      expect(db.prepare('UPDATE tokens SET expires_at = ? WHERE token_id = ?').run(at.toISOString(), id).changes).toBe(1);
    } finally {
      db.close();
    }
  };
  const counts = (token: string) => fetch(`${svc.url}/v1/entities/counts`, { headers: bearer(token) });
  beforeAll(async () => {
    svc = await startTestService();
  }, 30_000);
  afterAll(async () => {
    await svc?.close();
  });

  it('is refused 401 expired, while one whose record is left as issued is accepted', async () => {
    const ended = await issue('ops-expired');
    const kept = await issue('ops-kept');
    recordExpires(ended.tokenId, new Date(Date.now() - 2 * DAY_MS));
    const refused = await counts(ended.token);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ reason: 'expired' });
    const accepted = await counts(kept.token);
    expect(accepted.status).toBe(200);
    await accepted.body?.cancel();
  });

  it('is refused 401 when its exp lies after its record\'s expiry', async () => {
    const { token, tokenId: id } = await issue('ops-shortened');
    recordExpires(id, new Date(Date.now() + 600_000));
    const refused = await counts(token);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ reason: 'does not match its record' });
  });

  it('ends what a request or stream holds open with it once its record expires: remainingMs 0, told expired', async () => {
    const { token, tokenId: id } = await issue('ops-streaming');
    const access = svc.service.context.access;
    const principal = await access.verify(token);
    expect(access.remainingMs(principal)).toBeGreaterThan(0);
    expect(access.expired(principal)).toBe(false);
    recordExpires(id, new Date(Date.now() - 1_000));
    expect(access.remainingMs(principal)).toBe(0);
    expect(access.expired(principal)).toBe(true);
  });
});
