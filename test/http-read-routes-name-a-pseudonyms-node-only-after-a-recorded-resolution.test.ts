import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

/**
 * Found in review (SER-025, SER-011, SER-018): GET /v1/entities/pseudonym/{p} answered the pseudonym's machine
 * context, node and epoch included, to every read role (admin, operator, auditor), while the store held no
 * PseudonymResolved: the node behind a pseudonym was learnt with no resolution recorded. The same node was in the
 * pseudonym's replay, state, timeline (the cause of its first rotation is the node's registration), evidence bundle
 * and in the inclusion proof of its rotation, and the compliance `actions` row of its rotation named the node's
 * registration as its cause. Now the read side names it only to an auditor who recorded a
 * resolution of that pseudonym (POST /v1/pseudonyms/resolutions); everyone else gets the context without it and a
 * 403 on the history, which says how to resolve. Review 409: the entity itself (its revision and count of resolutions
 * rose with each resolution) and its dependents are refused so too
 * (test/a-pseudonym-read-tells-nothing-to-a-caller-who-has-not-resolved-it.test.ts).
 */
describe('the read routes name the node behind a pseudonym only to an auditor who recorded its resolution', () => {
  const NODE = 'hidden-meter-7';
  let svc: TestService;
  let api: Api;
  let pseudonym = '';
  let rotationPosition = '';
  let otherAuditor = '';

  const resolutions = async (): Promise<number> =>
    (await svc.service.context.credence.store.readStream(`pseudonym-${pseudonym}`)).filter((e) => e.type === 'PseudonymResolved').length;

  /** Every read route about the pseudonym: [name, call]. */
  const routes = (): readonly (readonly [string, (token: string) => ReturnType<Api['call']>])[] => {
    const entity = { kind: 'pseudonym', id: pseudonym };
    return [
      ['timeline', (token) => api.call('GET', '/v1/entities/{kind}/{id}/timeline', entity, { token })],
      ['state', (token) => api.call('GET', '/v1/entities/{kind}/{id}/state', entity, { token, query: { at: new Date(Date.now() + 60_000).toISOString() } })],
      ['replay', (token) => api.call('GET', '/v1/replay/{kind}/{id}', entity, { token })],
      ['evidence', (token) => api.call('GET', '/v1/transparency/evidence/{kind}/{id}', entity, { token })],
      ['inclusion proof of the rotation', (token) => api.call('GET', '/v1/transparency/proofs/inclusion', {}, { token, query: { position: rotationPosition } })],
    ];
  };

  beforeAll(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: body.registerNode(NODE) })).status).toBe(201);
    await settled(svc);
    for await (const e of svc.service.context.credence.store.readAll()) {
      if (e.type === 'PseudonymRotated' && e.data['nodeId'] === NODE) {
        pseudonym = String(e.data['pseudonym']);
        rotationPosition = e.position.toString(10);
      }
    }
    expect(pseudonym).toMatch(/^p-[a-z2-7]{26}$/);
    otherAuditor = (await svc.service.context.access.issue({ subject: 'other-auditor', role: 'auditor', ttlSeconds: 3600, issuedBy: 'test' })).token;
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('refuses the pseudonym entity to every read role that has not resolved it (review 409), and records nothing', async () => {
    for (const role of ['admin', 'operator', 'auditor'] as const) {
      const reply = await api.call('GET', '/v1/entities/{kind}/{id}', { kind: 'pseudonym', id: pseudonym }, { token: svc.tokens[role] });
      expect(reply.status, role).toBe(403);
      expect(reply.text, role).not.toContain(NODE);
      expect((reply.body as { reason: string }).reason).toContain('/v1/pseudonyms/resolutions');
      // Review 281: listed only to an auditor, those it resolved (none yet); refused to the other roles.
      const listed = await api.call<{ items: Record<string, unknown>[] }>('GET', '/v1/entities', {}, { token: svc.tokens[role], query: { kind: 'pseudonym' } });
      expect(listed.status, role).toBe(role === 'auditor' ? 200 : 403);
      if (role === 'auditor') expect(listed.body.items, role).toEqual([]);
    }
    expect(await resolutions()).toBe(0);
  });

  it("refuses the pseudonym's timeline, state, replay, evidence and its rotation's inclusion proof with 403 pointing to the resolution, naming the pseudonym only where the caller named it", async () => {
    for (const role of ['admin', 'operator', 'auditor'] as const) {
      for (const [name, call] of routes()) {
        const reply = await call(svc.tokens[role]);
        expect(reply.status, `${role} ${name}`).toBe(403);
        expect(reply.text, `${role} ${name}`).not.toContain(NODE);
        expect((reply.body as { reason: string }).reason).toContain('/v1/pseudonyms/resolutions');
        if (name === 'inclusion proof of the rotation') {
          // Asked by position, the caller named no pseudonym, and the refusal names none (review 281: it named the
          // one at the position, which linked a node's position to its pseudonym).
          expect(reply.text, `${role} ${name}`).not.toContain(pseudonym);
          expect((reply.body as { reason: string }).reason).toContain('credence pseudonym resolve');
          continue;
        }
        // And from the CLI, as an auditor would (review 168), to a caller who named the pseudonym.
        expect((reply.body as { reason: string }).reason).toContain(`credence pseudonym resolve ${pseudonym} --reason TEXT (with --sign-key FILE --audience NAME`);
      }
    }
    expect(await resolutions()).toBe(0);
  });

  it("leaves the rotation out of the compliance actions of anyone who has not resolved it (review 251)", async () => {
    const reply = await api.call<{ rows: Record<string, unknown>[] }>('GET', '/v1/compliance/{query}', { query: 'actions' }, { token: svc.tokens.admin, query: { actor: 'system:pseudonym-rotation' } });
    expect(reply.status).toBe(200);
    expect(reply.body.rows.find((r) => r['streamId'] === `pseudonym-${pseudonym}`)).toBeUndefined();
    expect(reply.text).not.toContain(pseudonym);
    expect(reply.text).not.toContain(NODE);
    const csv = await api.call('GET', '/v1/compliance/{query}', { query: 'actions' }, { token: svc.tokens.admin, accept: 'text/csv', query: { actor: 'system:pseudonym-rotation' } });
    expect(csv.status).toBe(200);
    expect(csv.text).not.toContain(NODE);
  });

  it('refuses what depends on the pseudonym (it has no dependents) to whoever has not resolved it (review 409)', async () => {
    for (const token of [svc.tokens.admin, svc.tokens.auditor]) {
      const reply = await api.call('GET', '/v1/entities/{kind}/{id}/dependents', { kind: 'pseudonym', id: pseudonym }, { token });
      expect(reply.status).toBe(403);
      expect(reply.text).not.toContain(NODE);
    }
  });

  it('serves all of it to the auditor who recorded a resolution, and to no one else', async () => {
    const resolved = await api.call<{ nodeId: string }>('POST', '/v1/pseudonyms/resolutions', {}, { token: svc.tokens.auditor, body: { pseudonym, reason: 'case 2026-117' } });
    expect(resolved.status).toBe(200);
    expect(resolved.body.nodeId).toBe(NODE);
    expect(await resolutions()).toBe(1);

    const entity = await api.call<{ context: Record<string, unknown> }>('GET', '/v1/entities/{kind}/{id}', { kind: 'pseudonym', id: pseudonym }, { token: svc.tokens.auditor });
    expect(entity.body.context).toMatchObject({ pseudonym, nodeId: NODE, epoch: 0, resolutions: 1 });
    expect(entity.body).toHaveProperty('position');
    // Listed to it now, still without where or when (review 227).
    const listed = await api.call<{ items: Record<string, unknown>[] }>('GET', '/v1/entities', {}, { token: svc.tokens.auditor, query: { kind: 'pseudonym' } });
    expect(listed.body.items.map((item) => item['id'])).toEqual([pseudonym]);
    for (const item of listed.body.items) expect(Object.keys(item).sort()).toEqual(['id', 'kind', 'revision', 'state', 'streamId']);
    for (const [name, call] of routes()) expect((await call(svc.tokens.auditor)).status, name).toBe(200);
    // The evidence is whole: the rotation naming the node is in it, so the bundle verifies.
    const evidence = await routes()[3]![1](svc.tokens.auditor);
    expect(evidence.text).toContain(NODE);

    for (const token of [otherAuditor, svc.tokens.operator, svc.tokens.admin]) {
      // Review 409: not its count of resolutions either, which told them when an auditor resolved it.
      const other = await api.call('GET', '/v1/entities/{kind}/{id}', { kind: 'pseudonym', id: pseudonym }, { token });
      expect(other.status).toBe(403);
      expect(other.text).not.toContain(NODE);
      for (const [name, call] of routes()) expect((await call(token)).status, name).toBe(403);
    }

    // Review 112: the reason, free text of the auditor's case, is not in the compliance `actions` rows (JSON or CSV) of
    // anyone; the resolving auditor reads it on the pseudonym's timeline. Review 251: the resolution's row itself is the
    // resolving auditor's alone, with the rotation's (without their node trail).
    for (const token of [svc.tokens.operator, svc.tokens.admin, svc.tokens.auditor]) {
      const actions = await api.call<{ rows: Record<string, unknown>[] }>('GET', '/v1/compliance/{query}', { query: 'actions' }, { token, query: { actor: 'test-auditor' } });
      expect(actions.status).toBe(200);
      const resolution = actions.body.rows.find((r) => r['type'] === 'PseudonymResolved');
      if (token !== svc.tokens.auditor) expect(resolution).toBeUndefined();
      else {
        expect(resolution).toMatchObject({ streamId: `pseudonym-${pseudonym}`, commandType: 'resolvePseudonym' });
        expect(resolution).not.toHaveProperty('reason');
      }
      const csv = await fetch(`${svc.url}/v1/compliance/actions?actor=test-auditor`, { headers: { authorization: `Bearer ${token}`, accept: 'text/csv' } });
      expect(await csv.text()).not.toContain('case 2026-117');
    }
    const timeline = await api.call('GET', '/v1/entities/{kind}/{id}/timeline', { kind: 'pseudonym', id: pseudonym }, { token: svc.tokens.auditor });
    expect(timeline.text).toContain('case 2026-117');
  });
});
