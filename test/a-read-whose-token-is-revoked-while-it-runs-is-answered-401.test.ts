import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/runtime/index.ts';
import { body, settled } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

/**
 * Review 367: the token of a read was checked when its headers came and again once its body was read, never after. A
 * long read (a replay, a timeline, a compliance export, an evidence bundle) whose token was revoked or expired while
 * it ran still answered 200 with all it had read. The token is checked again before the answer leaves: 401, and
 * nothing of the answer sent.
 */
describe('a read whose token is revoked while it runs is answered 401', () => {
  const clock = new FakeClock(new Date());
  let svc: TestService;
  let restore: (() => void) | undefined;
  beforeAll(async () => {
    svc = await startTestService({ clock });
    const created = await fetch(`${svc.url}/v1/commands`, {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify(body.createSubscription('sub-1')),
    });
    expect(created.status).toBe(201);
    await settled(svc);
  }, 30_000);
  afterEach(() => {
    restore?.();
    restore = undefined;
  });
  afterAll(async () => {
    await svc?.close();
  });

  /** The store's next readStream runs `meanwhile` first: what ends the token while the read is under way. */
  const onTheReadsFirstStoreRead = (meanwhile: () => void): void => {
    const store = svc.service.context.credence.store;
    const original = store.readStream.bind(store);
    let done = false;
    store.readStream = (async (...args: Parameters<typeof original>) => {
      if (!done) {
        done = true;
        meanwhile();
      }
      return original(...args);
    }) as typeof store.readStream;
    restore = () => {
      store.readStream = original;
    };
  };

  const read = (path: string, token: string): Promise<Response> => fetch(`${svc.url}${path}`, { headers: { authorization: `Bearer ${token}` } });

  it('refuses a replay sent in turns past the serializer once its token is revoked during it: 401, none of the replay', async () => {
    const { access } = svc.service.context;
    const issued = await access.issue({ subject: 'reading-erin', role: 'auditor', ttlSeconds: 600, issuedBy: 'test' });
    // The same read with a live token answers the replay.
    expect((await read('/v1/replay/subscription/sub-1', issued.token)).status).toBe(200);
    onTheReadsFirstStoreRead(() => {
      expect(access.revoke(issued.tokenId, 'test')).toBe(true);
    });
    const answer = await read('/v1/replay/subscription/sub-1', issued.token);
    const text = await answer.text();
    expect(answer.status).toBe(401);
    expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(answer.headers.get('www-authenticate')).toBe('Bearer realm="credence", error="invalid_token"');
    expect(answer.headers.get('cache-control')).toBe('no-store');
    const problem = JSON.parse(text) as { type: string; reason: string };
    expect(problem.type).toMatch(/unauthenticated$/);
    expect(problem.reason).toBe('revoked while the answer was prepared');
    expect(text).not.toContain('steps');
    expect(text).not.toContain('City Utilities');
  });

  it('refuses an answer the route serializer writes (an entity now) once its token is revoked during it', async () => {
    const { access } = svc.service.context;
    const issued = await access.issue({ subject: 'reading-frank', role: 'operator', ttlSeconds: 600, issuedBy: 'test' });
    onTheReadsFirstStoreRead(() => {
      access.revoke(issued.tokenId, 'test');
    });
    const answer = await read('/v1/entities/subscription/sub-1', issued.token);
    const text = await answer.text();
    expect(answer.status).toBe(401);
    expect(text).toContain('"reason":"revoked while the answer was prepared"');
    expect(text).not.toContain('City Utilities');
  });

  it('refuses a read whose token expires during it, told expired', async () => {
    const { access } = svc.service.context;
    const issued = await access.issue({ subject: 'reading-grace', role: 'auditor', ttlSeconds: 60, issuedBy: 'test' });
    onTheReadsFirstStoreRead(() => clock.advance(120_000));
    const answer = await read('/v1/replay/subscription/sub-1', issued.token);
    const text = await answer.text();
    expect(answer.status).toBe(401);
    expect(text).toContain('"reason":"expired"');
    expect(text).not.toContain('steps');
  });

  it('leaves a refusal the read made itself as it is, a problem, when its token is revoked during it', async () => {
    const { access } = svc.service.context;
    const issued = await access.issue({ subject: 'reading-ivan', role: 'auditor', ttlSeconds: 600, issuedBy: 'test' });
    onTheReadsFirstStoreRead(() => {
      access.revoke(issued.tokenId, 'test');
    });
    const answer = await read('/v1/replay/subscription/sub-absent', issued.token);
    expect(answer.status).toBe(404);
    expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(((await answer.json()) as { type: string }).type).toMatch(/not_found$/);
  });

  it('leaves a read whose token stays valid as it was, and a refusal the route made its own', async () => {
    const { access } = svc.service.context;
    const issued = await access.issue({ subject: 'reading-heidi', role: 'auditor', ttlSeconds: 600, issuedBy: 'test' });
    const replay = await read('/v1/replay/subscription/sub-1', issued.token);
    expect(replay.status).toBe(200);
    expect(((await replay.json()) as { steps: unknown[] }).steps.length).toBeGreaterThan(0);
    const absent = await read('/v1/replay/subscription/sub-absent', issued.token);
    expect(absent.status).toBe(404);
  });
});
