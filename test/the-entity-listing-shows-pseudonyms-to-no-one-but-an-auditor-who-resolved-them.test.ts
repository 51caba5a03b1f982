import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPageCursor } from '../adapters/http/page-cursor.ts';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { postCommand } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';
import { profile } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';

interface Summary {
  readonly streamId: string;
  readonly kind: string;
  readonly id: string;
}

/**
 * Found in review 281 (SER-025): GET /v1/entities (and `?kind=pseudonym`) listed every pseudonym to every read role.
 * An operator who listed, rotated node X on demand (POST /v1/pseudonyms/rotations) or registered a node, and listed
 * again saw exactly one new `p-…`: X's pseudonym, named with no resolution recorded. Now the listing shows a pseudonym
 * to no role but an auditor, and to an auditor only one it recorded a resolution of; `kind=pseudonym` is refused (403)
 * to the others, saying why.
 */
describe('the entity listing shows pseudonyms to no one but an auditor who resolved them', () => {
  const X = 'listed-meter-x';
  let svc: TestService;
  let api: Api;
  let otherAuditor = '';

  /** The pseudonyms rotated to for `nodeId`, oldest first. */
  const pseudonymsOf = async (nodeId: string): Promise<string[]> => {
    const found: string[] = [];
    for await (const e of svc.service.context.credence.store.readAll()) {
      if (e.type === 'PseudonymRotated' && e.data['nodeId'] === nodeId) found.push(String(e.data['pseudonym']));
    }
    return found;
  };

  /**
   * Every row the listing gives `token`, paged `limit` at a time, with the stream ids its cursors carry (a cursor is
   * base64url, readable by anyone: it must not name what the rows leave out).
   */
  const listAll = async (token: string, query: Record<string, string> = {}, limit = 2): Promise<{ items: Summary[]; cursorIds: string[] }> => {
    const items: Summary[] = [];
    const cursorIds: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 100; page++) {
      const reply = await api.call<{ items: Summary[]; nextCursor?: string }>('GET', '/v1/entities', {}, {
        token,
        query: { ...query, limit: String(limit), ...(cursor !== undefined ? { cursor } : {}) },
      });
      expect(reply.status, reply.text).toBe(200);
      items.push(...reply.body.items);
      cursor = reply.body.nextCursor;
      if (cursor === undefined) return { items, cursorIds };
      cursorIds.push(readPageCursor(cursor)!.after);
    }
    throw new Error('the listing did not end');
  };

  const pseudonymIds = (items: readonly Summary[]): string[] => items.filter((s) => s.kind === 'pseudonym').map((s) => s.id);

  beforeAll(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    for (const node of [X, 'listed-meter-y']) {
      expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: body.registerNode(node) })).status).toBe(201);
    }
    await settled(svc);
    expect(await pseudonymsOf(X)).toHaveLength(1);
    otherAuditor = (await svc.service.context.access.issue({ subject: 'other-auditor', role: 'auditor', ttlSeconds: 3600, issuedBy: 'test' })).token;
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('refuses kind=pseudonym to an operator or admin with 403 naming the rule', async () => {
    for (const role of ['operator', 'admin'] as const) {
      const reply = await api.call<{ reason: string }>('GET', '/v1/entities', {}, { token: svc.tokens[role], query: { kind: 'pseudonym' } });
      expect(reply.status, role).toBe(403);
      expect(reply.body.reason, role).toContain('SER-025');
      expect(reply.body.reason, role).toContain('auditor');
      expect(reply.text, role).not.toMatch(/p-[a-z2-7]{26}/);
    }
  });

  it('lists no new p-… to an operator or admin after an on-demand rotation or a registration', async () => {
    const before = new Map<string, Summary[]>();
    for (const role of ['operator', 'admin'] as const) {
      const { items, cursorIds } = await listAll(svc.tokens[role]);
      expect(pseudonymIds(items), role).toEqual([]);
      expect(cursorIds.filter((id) => id.startsWith('pseudonym-')), role).toEqual([]);
      expect(items.some((s) => s.id === X), role).toBe(true);
      before.set(role, items);
    }

    expect((await api.call('POST', '/v1/pseudonyms/rotations', {}, { token: svc.tokens.operator, body: { nodeId: X } })).status).toBe(201);
    expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: body.registerNode('listed-meter-z') })).status).toBe(201);
    await settled(svc);
    const rotatedTo = await pseudonymsOf(X);
    expect(rotatedTo).toHaveLength(2);

    for (const role of ['operator', 'admin'] as const) {
      for (const query of [{}, { state: 'active' }] as Record<string, string>[]) {
        const { items, cursorIds } = await listAll(svc.tokens[role], query);
        expect(pseudonymIds(items), role).toEqual([]);
        expect(cursorIds.filter((id) => id.startsWith('pseudonym-')), role).toEqual([]);
        for (const p of rotatedTo) expect(JSON.stringify(items), role).not.toContain(p);
      }
      // What is new is the registration only, which the node's own registration shows.
      const after = (await listAll(svc.tokens[role])).items.map((s) => s.streamId);
      const known = new Set(before.get(role)!.map((s) => s.streamId));
      expect(after.filter((id) => !known.has(id)), role).toEqual(['node-listed-meter-z']);
    }
  });

  it('lists to an auditor only the pseudonyms it recorded a resolution of, and names no other in its cursors', async () => {
    const [first, second] = await pseudonymsOf(X);
    for (const token of [svc.tokens.auditor, otherAuditor]) {
      expect(pseudonymIds((await listAll(token, { kind: 'pseudonym' })).items)).toEqual([]);
      expect(pseudonymIds((await listAll(token)).items)).toEqual([]);
    }

    const resolved = await api.call('POST', '/v1/pseudonyms/resolutions', {}, { token: svc.tokens.auditor, body: { pseudonym: second, reason: 'case 2026-281' } });
    expect(resolved.status).toBe(200);

    for (const limit of [1, 2, 50]) {
      const own = await listAll(svc.tokens.auditor, { kind: 'pseudonym' }, limit);
      expect(pseudonymIds(own.items), `limit ${limit}`).toEqual([second]);
      const whole = await listAll(svc.tokens.auditor, {}, limit);
      expect(pseudonymIds(whole.items), `limit ${limit}`).toEqual([second]);
      expect(whole.items.some((s) => s.id === X), `limit ${limit}`).toBe(true);
      for (const { cursorIds } of [own, whole]) {
        expect(cursorIds.filter((id) => id.startsWith('pseudonym-') && id !== `pseudonym-${second}`), `limit ${limit}`).toEqual([]);
      }
      expect(JSON.stringify(whole.items)).not.toContain(first);
    }
    // Another auditor has recorded none.
    expect(pseudonymIds((await listAll(otherAuditor, { kind: 'pseudonym' })).items)).toEqual([]);
    expect(pseudonymIds((await listAll(otherAuditor)).items)).toEqual([]);
  });

  it('keeps the per-kind counts, a number only', async () => {
    const reply = await api.call<{ kinds: Record<string, { entities: number }> }>('GET', '/v1/entities/counts', {}, { token: svc.tokens.operator });
    expect(reply.status).toBe(200);
    expect(reply.body.kinds['pseudonym']?.entities).toBe(4);
    expect(reply.text).not.toMatch(/p-[a-z2-7]{26}/);
  });
});

/** The console's list of a kind, as an operator and as an auditor sees it, after the change. */
describe.skipIf(!hasChromium())("the console's list of pseudonyms", () => {
  const POLL = { timeout: 30_000, interval: 100 };
  const world = useConsoleWorld(async (svc) => {
    await postCommand(svc, 'registerNode', { nodeId: 'console-meter-1', profile });
    await settled(svc);
  });
  const shown = async (role: 'operator' | 'auditor', hash: string, selector: string): Promise<string> => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens[role], hash);
      await expect.poll(() => page.locator(selector).count(), POLL).toBeGreaterThan(0);
      expect(cspViolations).toEqual([]);
      return ((await page.locator(selector).first().textContent()) ?? '').replace(/\s+/g, ' ');
    } finally {
      await context.close();
    }
  };

  it("shows an operator the server's refusal of the list, in its words", async () => {
    const said = await shown('operator', '#/entity/pseudonym', '.refused');
    expect(said).toContain('the list of pseudonyms is for an auditor, of the pseudonyms it resolved (SER-025)');
    expect(said).not.toContain('Sign in with a token of a role');
    expect(said).not.toMatch(/p-[a-z2-7]{26}/);
    // The operator's other lists are as before.
    expect(await shown('operator', '#/entity/node', 'table tbody tr td:first-child')).toContain('node-console-meter-1');
  });

  it('shows an auditor none until it resolves one, then that one', async () => {
    expect(await shown('auditor', '#/entity/pseudonym', 'p.empty')).toContain('No pseudonym you have resolved');
    let pseudonym = '';
    for await (const e of world.svc.service.context.credence.store.readAll()) if (e.type === 'PseudonymRotated') pseudonym = String(e.data['pseudonym']);
    const resolved = await fetch(new URL('/v1/pseudonyms/resolutions', world.svc.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${world.svc.tokens.auditor}`, 'content-type': 'application/json' },
      body: JSON.stringify({ pseudonym, reason: 'console check' }),
    });
    expect(resolved.status).toBe(200);
    expect(await shown('auditor', '#/entity/pseudonym', 'table tbody tr td:first-child')).toBe(`pseudonym-${pseudonym}`);
  });
});
