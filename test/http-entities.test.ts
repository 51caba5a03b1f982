import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';

const NODES = ['meter-01', 'meter-02', 'meter-03', 'meter-04', 'meter-05', 'meter-06', 'meter-07'];

describe('GET /v1/entities: list, one, timeline, state at an instant', () => {
  let svc: TestService;
  let api: Api;
  /** Between registering meter-01 and enrolling it. */
  let beforeEnrolment: string;
  const command = async (payload: unknown) => expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: payload })).status).toBe(201);

  beforeAll(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    await command(body.createSubscription());
    for (const n of NODES) await command(body.registerNode(n));
    await new Promise((resolve) => setTimeout(resolve, 20));
    beforeEnrolment = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (const n of NODES.slice(0, 3)) await command(body.enrolNode(n));
    await command(body.revokeNode('meter-07'));
    await settled(svc);
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('pages through every node with an opaque cursor, each once, in a bounded number of pages', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const reply = await api.call('GET', '/v1/entities', {}, { token: svc.tokens.auditor, query: { kind: 'node', limit: '3', ...(cursor ? { cursor } : {}) } });
      expect(reply.status).toBe(200);
      expect(reply.body.items.length).toBeLessThanOrEqual(3);
      seen.push(...reply.body.items.map((i: { id: string }) => i.id));
      cursor = reply.body.nextCursor;
      if (cursor === undefined) break;
    }
    expect(seen).toEqual(NODES);
  });

  it("refuses a cursor on another listing than the one it was returned for (it skipped or mixed rows, with a 200)", async () => {
    const first = await api.call('GET', '/v1/entities', {}, { token: svc.tokens.auditor, query: { kind: 'node', limit: '1' } });
    const cursor = first.body.nextCursor as string;
    for (const query of [{ kind: 'credential' }, { kind: 'subscription' }, { kind: 'node', state: 'enrolled' }, {}] as Record<string, string>[]) {
      const other = await api.call('GET', '/v1/entities', {}, { token: svc.tokens.auditor, query: { ...query, cursor } });
      expect([other.status, other.body.errors]).toEqual([400, [expect.objectContaining({ path: 'query.cursor', rule: 'cursor' })]]);
    }
    const same = await api.call('GET', '/v1/entities', {}, { token: svc.tokens.auditor, query: { kind: 'node', limit: '1', cursor } });
    expect(same.body.items.map((i: { id: string }) => i.id)).toEqual([NODES[1]]);
  });

  it('filters by state, each row with its revision, position and time', async () => {
    const enrolled = await api.call('GET', '/v1/entities', {}, { token: svc.tokens.operator, query: { kind: 'node', state: 'enrolled' } });
    expect(enrolled.body.items.map((i: { id: string }) => i.id)).toEqual(['meter-01', 'meter-02', 'meter-03']);
    expect(enrolled.body.items[0]).toEqual({
      streamId: 'node-meter-01',
      kind: 'node',
      id: 'meter-01',
      state: 'enrolled',
      revision: expect.stringMatching(/^\d+$/),
      position: expect.stringMatching(/^\d+$/),
      updatedAt: expect.any(String),
    });
    const revoked = await api.call('GET', '/v1/entities', {}, { token: svc.tokens.admin, query: { state: 'revoked' } });
    expect(revoked.body.items.map((i: { streamId: string }) => i.streamId)).toEqual(['node-meter-07']);
    expect(revoked.body.nextCursor).toBeUndefined();
  });

  it('refuses a forged cursor, an oversized page and an unknown kind with their query paths', async () => {
    const forged = await api.call('GET', '/v1/entities', {}, { token: svc.tokens.auditor, query: { cursor: 'bm90LWEtY3Vyc29y' } });
    expect(forged.status).toBe(400);
    expect(forged.body.errors).toEqual([expect.objectContaining({ path: 'query.cursor' })]);
    const big = await api.call('GET', '/v1/entities', {}, { token: svc.tokens.auditor, query: { limit: '100000', kind: 'rocket' } });
    expect(big.status).toBe(400);
    expect(big.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['query.kind', 'query.limit']);
  });

  it("shows one entity's current state and context; an unknown one is a typed 404", async () => {
    const reply = await api.call('GET', '/v1/entities/{kind}/{id}', { kind: 'node', id: 'meter-01' }, { token: svc.tokens.auditor });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ streamId: 'node-meter-01', state: 'enrolled', context: { nodeId: 'meter-01', subscriptionId: 'sub-1' } });
    const missing = await api.call('GET', '/v1/entities/{kind}/{id}', { kind: 'node', id: 'meter-99' }, { token: svc.tokens.auditor });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ type: 'https://credence.dev/problems/not_found', streamId: 'node-meter-99' });
  });

  it('gives the timeline: every event with who, which command and the signature status', async () => {
    const reply = await api.call('GET', '/v1/entities/{kind}/{id}/timeline', { kind: 'node', id: 'meter-01' }, { token: svc.tokens.auditor });
    expect(reply.status).toBe(200);
    expect(reply.body.entries.map((e: { type: string }) => e.type)).toEqual(['NodeRegistered', 'NodeEnrolled']);
    for (const entry of reply.body.entries) {
      expect(entry).toMatchObject({ actor: { id: 'test-operator', role: 'operator' }, signature: { status: 'unsigned' }, position: expect.stringMatching(/^\d+$/) });
    }
    const revoked = await api.call('GET', '/v1/entities/{kind}/{id}/timeline', { kind: 'node', id: 'meter-07' }, { token: svc.tokens.auditor });
    expect(revoked.body.entries.at(-1)).toMatchObject({ type: 'NodeRevoked', reason: 'keyCompromise' });
    const missing = await api.call('GET', '/v1/entities/{kind}/{id}/timeline', { kind: 'node', id: 'meter-99' }, { token: svc.tokens.auditor });
    expect(missing.status).toBe(404);
  });

  it('gives the state at an instant: absent before, as registered between, as enrolled now', async () => {
    const at = (instant: string) => api.call('GET', '/v1/entities/{kind}/{id}/state', { kind: 'node', id: 'meter-01' }, { token: svc.tokens.auditor, query: { at: instant } });
    expect((await at('2000-01-01T00:00:00Z')).body).toMatchObject({ state: 'absent', events: 0, verdict: { ok: true } });
    const between = await at(beforeEnrolment);
    expect(between.body).toMatchObject({ state: 'initialized', events: 1, asOf: { type: 'NodeRegistered', revision: '0' } });
    expect((await at(new Date().toISOString())).body).toMatchObject({ state: 'enrolled', events: 2, context: { subscriptionId: 'sub-1' } });
    const bad = await at('yesterday');
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([expect.objectContaining({ path: 'query.at' })]);
  });

  it('is the read side: an integrator token is 403', async () => {
    const reply = await api.call('GET', '/v1/entities', {}, { token: svc.tokens.integrator });
    expect(reply.status).toBe(403);
  });
});
