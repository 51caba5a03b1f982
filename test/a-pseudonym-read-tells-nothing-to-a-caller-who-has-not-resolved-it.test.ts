import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { registeredPseudonym } from './http-conformance.fixtures.ts';
import { forge } from './replay.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

/**
 * Review 409 (SER-025): a caller who may not resolve a pseudonym could still tell one that exists from one made up, and
 * watch auditors resolve it. GET /v1/entities/pseudonym/{p} answered an operator or an admin 200 with its revision and
 * `context.resolutions` (a made-up one 404), both of which rose with each auditor's resolution; its `…/dependents` was
 * 200 to them and to an auditor that had not resolved it; the timeline and state answered 404 before they checked the
 * role, and the entity route's `entity_too_long` counted the stream's events. Now every pseudonym read route answers a
 * caller who is not an auditor with a recorded resolution of that pseudonym the same for any well-formed pseudonym,
 * real or not: 403, for the role (`insufficient_scope`) to an operator or an admin, before the store is read.
 */
const MAX_EVENTS = 6;
const CHALLENGE = 'Bearer realm="credence", error="insufficient_scope"';
const MADE_UP = `p-${'a'.repeat(26)}`;
const ROUTES = ['', '/timeline', '/state', '/dependents'].map((tail) => (p: string) => `/v1/entities/pseudonym/${p}${tail}`);
const ALL_ROUTES = [...ROUTES, (p: string) => `/v1/replay/pseudonym/${p}`];

let svc: TestService;
let real = '';
let long = '';
const tokens: Record<string, string> = {};

const auditor = async (subject: string): Promise<string> =>
  (await svc.service.context.access.issue({ subject, role: 'auditor', ttlSeconds: 3_600, issuedBy: 'test' })).token;

beforeAll(async () => {
  svc = await startTestService({ config: { limits: { maxEntityEvents: MAX_EVENTS } } });
  real = await registeredPseudonym(svc, 'told-nothing-meter-1');
  long = await registeredPseudonym(svc, 'told-nothing-meter-2');
  expect([real, long]).not.toContain(MADE_UP);
  // A stream longer than one request reads: the entity route's entity_too_long counted its events to anyone.
  const { store } = svc.service.context.credence;
  for (let i = 0; i < MAX_EVENTS; i++) {
    await forge(store, `pseudonym-${long}`, 'PseudonymResolved', { pseudonym: long, reason: 'filler' }, new Date().toISOString());
  }
  tokens['operator'] = svc.tokens.operator;
  tokens['admin'] = svc.tokens.admin;
  tokens['auditor who has not resolved it'] = await auditor('bystander-auditor');
  tokens['resolver'] = await auditor('resolving-auditor');
}, 30_000);
afterEach(() => {
  vi.restoreAllMocks();
});
afterAll(async () => {
  await svc?.close();
});

interface Answer {
  readonly status: number;
  readonly challenge: string | null;
  /** The body with the pseudonym asked for written `{p}` (what the caller named), without the request's own id. */
  readonly body: unknown;
}

const asked = async (path: string, token: string, pseudonym: string): Promise<Answer> => {
  const reply = await fetch(new URL(path, svc.url), { headers: { authorization: `Bearer ${token}` } });
  const { requestId: _requestId, ...body } = JSON.parse((await reply.text()).replaceAll(pseudonym, '{p}')) as Record<string, unknown>;
  return { status: reply.status, challenge: reply.headers.get('www-authenticate'), body };
};

const resolve = (token: string, pseudonym: string) =>
  fetch(new URL('/v1/pseudonyms/resolutions', svc.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ pseudonym, reason: 'case 409', commandId: randomUUID() }),
  });

/** Every non-resolving caller gets for `pseudonym` on every route what it gets for the made-up one, refused. */
const toldNothingOf = async (pseudonym: string): Promise<void> => {
  for (const caller of ['operator', 'admin', 'auditor who has not resolved it']) {
    for (const route of ALL_ROUTES) {
      const known = await asked(route(pseudonym), tokens[caller]!, pseudonym);
      const unknown = await asked(route(MADE_UP), tokens[caller]!, MADE_UP);
      expect(known, `${caller} ${route('{p}')}`).toEqual(unknown);
      expect(known.status, `${caller} ${route('{p}')}`).toBe(403);
      expect(known.challenge, `${caller} ${route('{p}')}`).toBe(caller === 'operator' || caller === 'admin' ? CHALLENGE : null);
      expect(JSON.stringify(known.body)).not.toContain('told-nothing-meter');
    }
  }
};

describe('a pseudonym read tells nothing to a caller who has not resolved it', () => {
  it('answers operators, admins and an auditor yet to resolve it the same for a real pseudonym and a made-up one', async () => {
    await toldNothingOf(real);
  });

  it('counts no events of a long pseudonym for them (no entity_too_long)', async () => {
    await toldNothingOf(long);
  });

  it('refuses an operator or an admin before reading the store', async () => {
    const { store } = svc.service.context.credence;
    const read = vi.spyOn(store, 'readStream');
    for (const token of [svc.tokens.operator, svc.tokens.admin]) {
      for (const route of ALL_ROUTES) expect((await asked(route(real), token, real)).status).toBe(403);
    }
    expect(read.mock.calls.filter(([streamId]) => streamId === `pseudonym-${real}`)).toEqual([]);
  });

  it("still tells them nothing once another auditor has resolved it, and serves the resolving auditor", async () => {
    expect((await resolve(tokens['resolver']!, real)).status).toBe(200);
    await toldNothingOf(real);
    for (const route of ALL_ROUTES) expect((await asked(route(real), tokens['resolver']!, real)).status, route('{p}')).toBe(200);
    const entity = await fetch(new URL(`/v1/entities/pseudonym/${real}`, svc.url), { headers: { authorization: `Bearer ${tokens['resolver']!}` } });
    expect(((await entity.json()) as { context: Record<string, unknown> }).context).toMatchObject({ nodeId: 'told-nothing-meter-1', resolutions: 1 });
  });

  it('leaves an auditor to learn that a pseudonym does not exist where it may resolve one: 404', async () => {
    const made = await resolve(tokens['auditor who has not resolved it']!, MADE_UP);
    expect(made.status).toBe(404);
  });
});
