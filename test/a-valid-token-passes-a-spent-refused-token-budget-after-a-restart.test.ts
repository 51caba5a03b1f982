import { describe, expect, it } from 'vitest';
import { createAccessControl } from '../adapters/http/auth/access-control.ts';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/embedded.ts';
import { openAccessRegistry, systemRandom, type AccessRegistry } from '../adapters/runtime/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import { useTestService, type TestService } from './support/service.ts';

/*
 * Review 273: past an address's refused-token budget only tokens this process had accepted got through, and that
 * memory is empty after a restart: junk from one host behind a NAT (or from any client behind a proxy without
 * trustProxy) kept the budget spent and every valid token there got 429 for as long as the junk came.
 */

const b64u = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
/** A compact JWS whose payload names `jti`, signed by no one. */
const naming = (jti: string): string => `${b64u({ alg: 'EdDSA', typ: 'JWT', kid: 'k' })}.${b64u({ jti, sub: 'x', role: 'admin' })}.${'A'.repeat(86)}`;
const junk = (i: number): string => (i % 2 === 0 ? `junk-${i}` : naming(`tok_${String(i).padStart(22, 'x')}`));

const counts = (svc: TestService, token: string) =>
  fetch(`${svc.url}/v1/entities/counts`, { headers: { authorization: `Bearer ${token}` } }).then(async (r) => {
    await r.arrayBuffer();
    return r.status;
  });

/** Counts the tokens the service verifies (an Ed25519 check each, unless verified lately) and what each was told. */
const countingVerify = (svc: TestService) => {
  const access = svc.service.context.access;
  const verify = access.verify.bind(access);
  const seen: { token: string; refused?: string }[] = [];
  access.verify = async (token) => {
    const entry: { token: string; refused?: string } = { token };
    seen.push(entry);
    try {
      return await verify(token);
    } catch (error) {
      entry.refused = (error as { problem?: { reason?: string } }).problem?.reason ?? 'other';
      throw error;
    }
  };
  return seen;
};

describe('a valid token from an address whose refused-token budget junk spent (review 273)', () => {
  const svc = useTestService({ config: { limits: { rateLimitPerAddress: 3 } } });

  it('passes after a restart, when this process has never verified it', async () => {
    const operator = svc.tokens.operator;
    expect(await counts(svc, operator)).toBe(200);
    const before: number[] = [];
    for (let i = 0; i < 4; i++) before.push(await counts(svc, junk(i)));
    expect(before).toEqual([401, 401, 401, 429]);
    expect(await counts(svc, operator)).toBe(200);

    await svc.restart();
    const after: number[] = [];
    for (let i = 0; i < 4; i++) after.push(await counts(svc, junk(i)));
    expect(after).toEqual([401, 401, 401, 429]);
    expect(await counts(svc, operator)).toBe(200);
  });

  it('leaves junk alone at 429, unchecked, once the budget is spent: a revoked token\'s id, an unknown id, no id', async () => {
    const seen = countingVerify(svc);
    const revoked = await svc.service.context.access.issue({ subject: 'gone', role: 'auditor', ttlSeconds: 600, issuedBy: 'test' });
    svc.service.context.access.revoke(revoked.tokenId, 'test');
    const statuses: number[] = [];
    for (const token of [revoked.token, naming(revoked.tokenId), junk(10), junk(11), 'a.b.c', naming('tok_short')]) statuses.push(await counts(svc, token));
    expect(statuses).toEqual([429, 429, 429, 429, 429, 429]);
    expect(seen).toEqual([]);
  });

  it('refuses a forged token naming a live id, and checks that id from there no more until the window ends', async () => {
    const seen = countingVerify(svc);
    const [header, payload] = svc.tokens.operator.split('.');
    const forged = `${header}.${payload}.${'A'.repeat(86)}`;
    expect(await counts(svc, forged)).not.toBe(200);
    expect(seen).toEqual([{ token: forged, refused: 'bad signature' }]);
    // Another forgery of the same id, differently signed: no second signature check.
    expect(await counts(svc, `${header}.${payload}.${'B'.repeat(85)}A`)).toBe(429);
    expect(seen).toHaveLength(1);
    // The operator's own token verified in this process since the restart: it goes on through.
    expect(await counts(svc, svc.tokens.operator)).toBe(200);
  });
});

describe('forgeries naming many live ids from an address whose budget is spent (review 279)', () => {
  const svc = useTestService({ config: { limits: { rateLimitPerAddress: 3 } } });

  it('cost at most the budget again in signature checks in the window, whatever the number of live ids', async () => {
    const operator = svc.tokens.operator;
    expect(await counts(svc, operator)).toBe(200);
    const spending: number[] = [];
    for (let i = 0; i < 4; i++) spending.push(await counts(svc, junk(i)));
    expect(spending).toEqual([401, 401, 401, 429]);
    const access = svc.service.context.access;
    const live = [];
    for (let i = 0; i < 41; i++) live.push(await access.issue({ subject: `holder-${i}`, role: 'auditor', ttlSeconds: 600, issuedBy: 'test' }));
    const seen = countingVerify(svc);
    const statuses: number[] = [];
    for (const issued of live.slice(0, 40)) statuses.push(await counts(svc, naming(issued.tokenId)));
    // Before: one check per live id named (40), each refused.
    expect(seen).toHaveLength(3);
    // Refused, 401 or (the address's own request limit spent too) 429: none let in.
    expect(statuses.filter((status) => status === 200)).toEqual([]);
    // The cost, past the cap: a live token this process has not verified waits for the window too ...
    expect(await counts(svc, live[40]!.token)).toBe(429);
    expect(seen).toHaveLength(3);
    // ... and one it verified lately goes on through.
    expect(await counts(svc, operator)).toBe(200);
  });
});

describe('the id a token names, read before any signature check', () => {
  it('reaches access.db only when it has the form of a token id, and is live only while its record is', async () => {
    const inner = openAccessRegistry({ memory: true });
    const reads: string[] = [];
    const registry = new Proxy(inner, {
      get: (target, property, receiver) =>
        property === 'find'
          ? (id: string) => {
              reads.push(id);
              return target.find(id);
            }
          : Reflect.get(target, property, receiver),
    }) as AccessRegistry;
    const access = await createAccessControl({
      se: ownerView(EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, { now: () => new Date(), random: systemRandom }), 'credence:access'),
      registry,
      clock: { now: () => new Date() },
      random: systemRandom,
      issuer: 'credence',
      audience: 'credence-api',
      maxTtlSeconds: 3_600,
      maxActivePerSubject: 100,
    });
    const live = await access.issue({ subject: 'someone', role: 'operator', ttlSeconds: 600, issuedBy: 'test' });
    reads.length = 0;
    for (const token of ['junk', 'a.b.c', naming('tok_short'), naming('../etc'), `${naming('tok_short')}${'A'.repeat(2_048)}`, `x.${'A'.repeat(3_000)}.y`]) {
      expect(access.liveTokenIdNamedBy(token)).toBeUndefined();
    }
    expect(reads).toEqual([]);
    expect(access.liveTokenIdNamedBy(live.token)).toBe(live.tokenId);
    expect(access.liveTokenIdNamedBy(naming(live.tokenId))).toBe(live.tokenId);
    access.revoke(live.tokenId, 'test');
    expect(access.liveTokenIdNamedBy(live.token)).toBeUndefined();
    expect(reads).toEqual([live.tokenId, live.tokenId, live.tokenId]);
  });
});
