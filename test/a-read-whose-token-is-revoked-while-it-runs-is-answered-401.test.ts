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

  /** The completion line of the answer `answer` (its `res`), once the log has it. */
  const completionOf = async (answer: Response): Promise<Record<string, unknown>> => {
    const id = answer.headers.get('x-request-id');
    for (let i = 0; i < 50; i++) {
      const lines = svc
        .logs()
        .map((l) => JSON.parse(l) as { reqId?: string; msg?: string; res?: Record<string, unknown> })
        .filter((l) => l.reqId === id && l.msg === 'request completed');
      if (lines.length > 0) {
        expect(lines).toHaveLength(1);
        return lines[0]!.res ?? {};
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no request completed line for ${String(id)}`);
  };

  /** What a 401 put in a refusal's place shows: the unauthenticated problem, none of the refusal's members or headers. */
  const expectTheUnauthenticatedProblemOnly = async (answer: Response, refusal: { readonly code: string; readonly members: readonly string[] }): Promise<void> => {
    const text = await answer.text();
    expect(answer.status).toBe(401);
    expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(answer.headers.get('www-authenticate')).toBe('Bearer realm="credence", error="invalid_token"');
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(answer.headers.get('x-request-id')).not.toBeNull();
    expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
    expect(answer.headers.get('content-length')).toBe(String(Buffer.byteLength(text)));
    const problem = JSON.parse(text) as Record<string, unknown>;
    expect(problem).toMatchObject({ status: 401, title: 'Authentication required', reason: 'revoked while the answer was prepared' });
    expect(String(problem['type'])).toMatch(/unauthenticated$/);
    for (const member of refusal.members) expect(problem, member).not.toHaveProperty(member);
    expect(text).not.toContain(refusal.code);
    expect(await completionOf(answer)).toEqual({ statusCode: 401, problem: 'unauthenticated', reason: 'revoked while the answer was prepared' });
  };

  it('refuses a refusal the read made itself (404) once its token is revoked during it: 401, none of the refusal', async () => {
    const { access } = svc.service.context;
    const issued = await access.issue({ subject: 'reading-ivan', role: 'auditor', ttlSeconds: 600, issuedBy: 'test' });
    onTheReadsFirstStoreRead(() => {
      access.revoke(issued.tokenId, 'test');
    });
    // Review 370: a 404 tells whether an entity exists, to a token that no longer may ask.
    const answer = await read('/v1/replay/subscription/sub-absent', issued.token);
    await expectTheUnauthenticatedProblemOnly(answer, { code: 'not_found', members: ['streamId'] });
  });

  it("refuses a 409 of the read's own once its token is revoked during it: 401, no head of the log", async () => {
    const { access } = svc.service.context;
    const issued = await access.issue({ subject: 'reading-judy', role: 'auditor', ttlSeconds: 600, issuedBy: 'test' });
    // The same read with a live token is refused, naming the log's head.
    const live = await read('/v1/entities/subscription/sub-1/timeline?limit=1&after=99', issued.token);
    expect(live.status).toBe(409);
    expect(await live.json()).toHaveProperty('head');
    onTheReadsFirstStoreRead(() => {
      access.revoke(issued.tokenId, 'test');
    });
    const answer = await read('/v1/entities/subscription/sub-1/timeline?limit=1&after=99', issued.token);
    await expectTheUnauthenticatedProblemOnly(answer, { code: 'resume_point_not_in_log', members: ['head', 'resumeAfter', 'streamId'] });
  });

  it('answers the 401 put in place of a refusal as the one put in place of an answer, header for header', async () => {
    const { access } = svc.service.context;
    const names = async (path: string, subject: string): Promise<{ headers: string[]; members: string[] }> => {
      const issued = await access.issue({ subject, role: 'auditor', ttlSeconds: 600, issuedBy: 'test' });
      onTheReadsFirstStoreRead(() => {
        access.revoke(issued.tokenId, 'test');
      });
      const answer = await read(path, issued.token);
      restore?.();
      restore = undefined;
      expect(answer.status).toBe(401);
      const problem = (await answer.json()) as Record<string, unknown>;
      return { headers: [...answer.headers.keys()].filter((h) => h !== 'date').sort(), members: Object.keys(problem) };
    };
    const inPlaceOfAnAnswer = await names('/v1/replay/subscription/sub-1', 'reading-kim');
    const inPlaceOfARefusal = await names('/v1/replay/subscription/sub-absent', 'reading-lou');
    expect(inPlaceOfARefusal).toEqual(inPlaceOfAnAnswer);
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
