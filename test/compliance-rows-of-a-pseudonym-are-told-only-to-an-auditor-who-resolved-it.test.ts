import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 251: an operator rotated node X on demand (POST /v1/pseudonyms/rotations, whose answer gives the epoch only),
 * then read their own actions (GET /v1/compliance/actions?actor=<self>): the row of that rotation named the new
 * pseudonym's stream, `pseudonym-p-…`, linking X to it with no resolution recorded. The compliance rows of a
 * pseudonym's stream are now told as the canonical event stream tells its events (review 223): only to an auditor who
 * recorded a resolution of that pseudonym. Paging still holds: the rows are left out after the page is cut.
 */
const X = 'rotated-meter-x';
const Y = 'later-meter-y';

interface Page {
  readonly rows: Record<string, unknown>[];
  readonly truncated: boolean;
  readonly nextAfter?: string;
}

describe("compliance rows at a pseudonym's stream", () => {
  let svc: TestService;
  let api: Api;
  let otherAuditor = '';
  /** The pseudonym X took on the operator's demand, and where it was recorded. */
  let demanded = '';
  let demandedAt = '';

  const actions = (token: string, actor: string, extra: Record<string, string> = {}) =>
    api.call<Page>('GET', '/v1/compliance/{query}', { query: 'actions' }, { token, query: { actor, ...extra } });
  const csv = async (token: string, actor: string): Promise<string> =>
    (await fetch(`${svc.url}/v1/compliance/actions?actor=${actor}`, { headers: { authorization: `Bearer ${token}`, accept: 'text/csv' } })).text();

  beforeAll(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: body.registerNode(X) })).status).toBe(201);
    await settled(svc);
    const rotated = await fetch(`${svc.url}/v1/pseudonyms/rotations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify({ nodeId: X }),
    });
    expect(rotated.status, await rotated.clone().text()).toBeLessThan(300);
    // After the rotation, so that the operator's rotation row stands between two rows they are told.
    expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: body.registerNode(Y) })).status).toBe(201);
    await settled(svc);
    for await (const e of svc.service.context.credence.store.readAll()) {
      if (e.type === 'PseudonymRotated' && e.data['nodeId'] === X && e.data['epoch'] === 1) {
        demanded = String(e.data['pseudonym']);
        demandedAt = e.position.toString(10);
      }
    }
    expect(demanded).toMatch(/^p-[a-z2-7]{26}$/);
    otherAuditor = (await svc.service.context.access.issue({ subject: 'other-auditor', role: 'auditor', ttlSeconds: 3600, issuedBy: 'test' })).token;
  });
  afterAll(async () => {
    await svc?.close();
  });

  it("leaves the operator's own demand rotation out of their actions, JSON and CSV, and out of everyone's who has not resolved it", async () => {
    const tokens = { operator: svc.tokens.operator, admin: svc.tokens.admin, auditor: svc.tokens.auditor, otherAuditor };
    for (const [who, token] of Object.entries(tokens)) {
      for (const actor of ['test-operator', 'system:pseudonym-rotation']) {
        const page = await actions(token, actor);
        expect(page.status, `${who} ${actor}`).toBe(200);
        expect(page.body.rows.filter((r) => String(r['streamId']).startsWith('pseudonym-')), `${who} ${actor}`).toEqual([]);
        expect(page.text, `${who} ${actor}`).not.toContain(demanded);
        expect(await csv(token, actor), `${who} ${actor}`).not.toContain('pseudonym-p-');
      }
    }
    const own = await actions(svc.tokens.operator, 'test-operator');
    expect(own.body.rows.map((r) => r['type'])).toEqual(['NodeRegistered', 'NodeRegistered']);
  });

  it('pages past the rows left out: a page may be short, and a cursor at a left-out row resumes', async () => {
    const rows: Record<string, unknown>[] = [];
    const cursors: string[] = [];
    let after: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await actions(svc.tokens.operator, 'test-operator', { limit: '1', ...(after !== undefined ? { after } : {}) });
      expect(page.status, page.text).toBe(200);
      rows.push(...page.body.rows);
      if (!page.body.truncated) break;
      cursors.push(page.body.nextAfter!);
      after = page.body.nextAfter;
    }
    expect(rows).toEqual((await actions(svc.tokens.operator, 'test-operator')).body.rows);
    // The page that read the rotation was cut there and told nothing; the next starts past it.
    const atRotation = cursors.find((c) => c.split('~')[0] === demandedAt);
    expect(atRotation).toBeDefined();
    const next = await actions(svc.tokens.operator, 'test-operator', { after: atRotation! });
    expect(next.status, next.text).toBe(200);
    expect(next.body.rows.map((r) => r['type'])).toEqual(['NodeRegistered']);
    expect(next.text).toContain(Y);
  });

  it('tells them to the auditor who recorded a resolution of the pseudonym, and to no one else', async () => {
    const resolved = await api.call<{ nodeId: string }>('POST', '/v1/pseudonyms/resolutions', {}, { token: svc.tokens.auditor, body: { pseudonym: demanded, reason: 'case 251' } });
    expect(resolved.status).toBe(200);
    expect(resolved.body.nodeId).toBe(X);

    const told = await actions(svc.tokens.auditor, 'test-operator');
    expect(told.status).toBe(200);
    expect(told.body.rows.find((r) => r['streamId'] === `pseudonym-${demanded}`)).toMatchObject({
      position: demandedAt,
      type: 'PseudonymRotated',
      commandType: 'rotatePseudonym',
      actor: { id: 'test-operator', role: 'operator' },
    });
    expect(await csv(svc.tokens.auditor, 'test-operator')).toContain(`pseudonym-${demanded}`);
    const resolution = (await actions(svc.tokens.auditor, 'test-auditor')).body.rows.find((r) => r['type'] === 'PseudonymResolved');
    expect(resolution).toMatchObject({ streamId: `pseudonym-${demanded}`, commandType: 'resolvePseudonym' });

    for (const token of [svc.tokens.operator, svc.tokens.admin, otherAuditor]) {
      for (const actor of ['test-operator', 'test-auditor']) {
        const page = await actions(token, actor);
        expect(page.status).toBe(200);
        expect(page.text).not.toContain(demanded);
        expect(await csv(token, actor)).not.toContain(demanded);
      }
    }
  });
});
