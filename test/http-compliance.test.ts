import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toCsv } from '../adapters/http/routes/csv.ts';
import { startTestService, type TestService } from './support/service.ts';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { parseCsv } from './support/csv.ts';

describe('compliance queries, replay verdicts and projection status over HTTP', () => {
  let svc: TestService;
  let api: Api;
  const command = async (payload: unknown) => expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: payload })).status).toBe(201);

  beforeAll(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    await command(body.createSubscription());
    await command(body.registerNode('gw'));
    await command(body.enrolNode('gw'));
    for (const k of ['gw-c1', 'gw-c2']) {
      await command(body.issueCredential(k, 'gw'));
      await command(body.provisionCredential(k));
    }
    await command(body.configureAssociation('gw-a1', 'gw-c1', 'gw'));
    await command(body.establishAssociation('gw-a1'));
    await settled(svc);
    // The cascade revokes gw-a1 live; the compliance read model follows.
    await command(body.revokeCredential('gw-c1', 'keyCompromise'));
    await settled(svc);
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('lists the query catalog with each query’s parameters', async () => {
    const reply = await api.call('GET', '/v1/compliance', {}, { token: svc.tokens.auditor });
    expect(reply.status).toBe(200);
    expect(reply.body.queries.map((q: { name: string }) => q.name)).toEqual(['revocations', 'actions', 'provisioned', 'expiring', 'dangling-associations', 'dangling-credentials']);
    expect(reply.body.queries.find((q: { name: string }) => q.name === 'expiring').params).toEqual(['days', 'now', 'limit', 'after']);
    expect(reply.body.queries.find((q: { name: string }) => q.name === 'revocations').params).toEqual(['reason', 'from', 'to', 'by', 'order', 'limit', 'after']);
  });

  it('answers a query as JSON, every row with the position that proves it', async () => {
    const reply = await api.call('GET', '/v1/compliance/{query}', { query: 'revocations' }, { token: svc.tokens.auditor, query: { reason: 'keyCompromise' } });
    expect(reply.status).toBe(200);
    expect(reply.body.params).toEqual({ reason: 'keyCompromise' });
    expect(reply.body.rows.map((r: { streamId: string }) => r.streamId)).toEqual(['credential-gw-c1', 'association-gw-a1']);
    expect(reply.body.rows[1]).toMatchObject({ kind: 'association', id: 'gw-a1', reason: 'keyCompromise', actor: 'system:process-manager' });
    for (const row of reply.body.rows) expect(row.position).toMatch(/^[1-9]\d*$/);
    const dangling = await api.call('GET', '/v1/compliance/{query}', { query: 'dangling-associations' }, { token: svc.tokens.operator });
    expect(dangling.body.rows).toEqual([]);
  });

  it('answers as CSV on Accept: text/csv: a header row, one row per answer, nested fields as columns', async () => {
    const reply = await api.call('GET', '/v1/compliance/{query}', { query: 'actions' }, { token: svc.tokens.auditor, accept: 'text/csv', query: { actor: 'test-operator' } });
    expect(reply.status).toBe(200);
    expect(reply.type).toMatch(/^text\/csv/);
    const [header, ...rows] = parseCsv(reply.text);
    expect(header!.slice(0, 3)).toEqual(['position', 'eventId', 'streamId']);
    expect(header).toEqual(expect.arrayContaining(['actor.id', 'actor.role', 'signature.status']));
    const json = await api.call('GET', '/v1/compliance/{query}', { query: 'actions' }, { token: svc.tokens.auditor, query: { actor: 'test-operator' } });
    expect(rows).toHaveLength(json.body.rows.length);
    expect(rows.map((r) => r[0])).toEqual(json.body.rows.map((r: { position: string }) => r.position));
    expect(rows.every((r) => r[header!.indexOf('actor.id')] === 'test-operator')).toBe(true);
  });

  it('answers JSON when Accept refuses CSV (text/csv;q=0) or weighs JSON more, and says the answer varies by Accept', async () => {
    for (const accept of ['text/csv;q=0', 'text/csv;q=0.2, application/json']) {
      const reply = await api.call('GET', '/v1/compliance/{query}', { query: 'actions' }, { token: svc.tokens.auditor, accept, query: { actor: 'test-operator' } });
      expect(reply.status, accept).toBe(200);
      expect(reply.type, accept).toMatch(/^application\/json/);
      expect(reply.headers.get('vary'), accept).toMatch(/accept/i);
    }
  });

  it('escapes CSV fields (RFC 4180) and defuses spreadsheet formulas', () => {
    const text = toCsv([{ position: '7', note: 'a, "b"\r\nc', actor: { id: '=HYPERLINK("x")' }, n: -1 }], ['position']);
    expect(text).toBe('position,note,actor.id,n\r\n7,"a, ""b""\r\nc","\'=HYPERLINK(""x"")",-1\r\n');
    expect(parseCsv(text)).toEqual([['position', 'note', 'actor.id', 'n'], ['7', 'a, "b"\r\nc', '\'=HYPERLINK("x")', '-1']]);
  });

  it('quotes a field holding the separator of another spreadsheet locale (;), a tab or a pipe, so no formula starts a cell after it', () => {
    // Found in review: unquoted, a spreadsheet splitting on `;` made `=cmd|...` a cell of its own.
    const text = toCsv([{ position: '1', causationId: "x;=cmd|' /C calc'!A0", correlationId: 'ok\t=1+1', note: 'a|b' }], ['position']);
    expect(text.split('\r\n')[1]).toBe(`1,"x;=cmd|' /C calc'!A0","ok\t=1+1","a|b"`);
    expect(parseCsv(text)[1]).toEqual(['1', "x;=cmd|' /C calc'!A0", 'ok\t=1+1', 'a|b']);
  });

  it("refuses parameters the query's own schema refuses, each with its path", async () => {
    const reply = await api.call('GET', '/v1/compliance/{query}', { query: 'expiring' }, { token: svc.tokens.auditor, query: { days: 'soon', actor: 'x' } });
    expect(reply.status).toBe(400);
    expect(reply.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['query.actor', 'query.days']);
    const unknown = await api.call('GET', '/v1/compliance/{query}', { query: 'everything' }, { token: svc.tokens.auditor });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors).toEqual([expect.objectContaining({ path: 'params.query' })]);
  });

  it('gives the fleet replay verdict and one entity’s, with the state after each event', async () => {
    const fleet = await api.call('GET', '/v1/replay', {}, { token: svc.tokens.auditor, query: { limit: '5' } });
    expect(fleet.status).toBe(200);
    expect(fleet.body).toMatchObject({ ok: true, findings: [], findingsTotal: 0, brokenStreamsTotal: 0 });
    expect(fleet.body.kinds.credential).toEqual({ entities: 2, events: expect.any(Number), states: { revoked: 1, enrolled: 1 } });
    const one = await api.call('GET', '/v1/replay/{kind}/{id}', { kind: 'association', id: 'gw-a1' }, { token: svc.tokens.auditor });
    expect(one.body).toMatchObject({ streamId: 'association-gw-a1', state: 'revoked', verdict: { ok: true } });
    expect(one.body.steps.map((s: { state: string }) => s.state)).toEqual(['initialized', 'associated', 'revoked']);
    const missing = await api.call('GET', '/v1/replay/{kind}/{id}', { kind: 'association', id: 'nope' }, { token: svc.tokens.auditor });
    expect(missing.status).toBe(404);
  });

  it('shows every live component at the head, with no lag and no error', async () => {
    await settled(svc);
    const head = String(await svc.service.context.credence.store.headPosition());
    const reply = await api.call('GET', '/v1/projections', {}, { token: svc.tokens.auditor });
    expect(reply.status).toBe(200);
    expect(reply.body.components.map((c: { name: string }) => c.name)).toEqual(
      expect.arrayContaining(['cascade', 'expiry', 'audit', 'compliance', 'entities', 'pseudonyms', 'transparency']),
    );
    for (const c of reply.body.components) expect(c).toEqual({ name: c.name, checkpoint: head, head, eventsBehind: 0, secondsBehind: 0 });
    expect(reply.body.lag).toEqual({ eventsBehind: 0, secondsBehind: 0 });
  });

  // Last: it adds a credential, which the other answers here do not count.
  it('bounds every answer, says when more rows matched, and pages on in log order (SER-001; found in review: every row in one body)', async () => {
    const all = await api.call('GET', '/v1/compliance/{query}', { query: 'actions' }, { token: svc.tokens.auditor, query: { actor: 'test-operator' } });
    expect([all.status, all.body.truncated, all.headers.get('credence-truncated')]).toEqual([200, false, 'false']);
    const total = all.body.rows.length as number;
    expect(total).toBeGreaterThan(3);
    const seen: string[] = [];
    let after: string | undefined;
    for (let page = 0; page < total; page++) {
      const reply = await api.call('GET', '/v1/compliance/{query}', { query: 'actions' }, {
        token: svc.tokens.auditor, query: { actor: 'test-operator', limit: '2', ...(after !== undefined ? { after } : {}) },
      });
      expect(reply.body.rows.length).toBeLessThanOrEqual(2);
      seen.push(...reply.body.rows.map((r: { position: string }) => r.position));
      expect(reply.headers.get('credence-truncated')).toBe(String(reply.body.truncated));
      if (!reply.body.truncated) break;
      // Tagged with the event at that position: a cursor names its log (review 199).
      expect(reply.body.nextAfter).toMatch(new RegExp(`^${reply.body.rows.at(-1).position}~[0-9a-f]{8}\\.[0-9a-f]{8}$`));
      after = reply.body.nextAfter;
    }
    expect(seen).toEqual(all.body.rows.map((r: { position: string }) => r.position));
    // A query in another order says it was cut, and pages by a cursor of that order (review 142), not a position.
    await command(body.issueCredential('gw-c3', 'gw'));
    await settled(svc);
    const soonest = await api.call('GET', '/v1/compliance/{query}', { query: 'expiring' }, { token: svc.tokens.auditor, query: { days: '36500', limit: '1' } });
    const first = soonest.body.rows[0];
    expect([soonest.body.rows.length, soonest.body.truncated]).toEqual([1, true]);
    expect(soonest.body.nextAfter).toMatch(new RegExp(`^${Date.parse(first.notAfter)}:${first.credentialId}@\\d+~[0-9a-f]{8}\\.[0-9a-f]{8}$`));
    const csv = await api.call('GET', '/v1/compliance/{query}', { query: 'expiring' }, { token: svc.tokens.auditor, query: { days: '36500', limit: '1' }, accept: 'text/csv' });
    expect(csv.headers.get('credence-truncated')).toBe('true');
    const pagedCsv = await api.call('GET', '/v1/compliance/{query}', { query: 'actions' }, { token: svc.tokens.auditor, query: { actor: 'test-operator', limit: '1' }, accept: 'text/csv' });
    expect(pagedCsv.headers.get('credence-truncated')).toBe('true');
    expect(pagedCsv.headers.get('credence-next-after')).toMatch(new RegExp(`^${all.body.rows[0].position}~[0-9a-f]{8}\\.[0-9a-f]{8}$`));
    for (const limit of ['0', '10001', '', 'x', '0x2', '1e1']) {
      const refused = await api.call('GET', '/v1/compliance/{query}', { query: 'revocations' }, { token: svc.tokens.auditor, query: { limit } });
      expect([refused.status, refused.body.errors?.[0]?.path], limit).toEqual([400, 'query.limit']);
    }
    const badAfter = await api.call('GET', '/v1/compliance/{query}', { query: 'expiring' }, { token: svc.tokens.auditor, query: { days: '1', after: '3' } });
    expect([badAfter.status, badAfter.body.errors?.[0]?.path]).toEqual([400, 'query.after']);
  });
});
