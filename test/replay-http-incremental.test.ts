import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';
import { body, openApi, type Api } from './http-conformance.fixtures.ts';

describe('GET /v1/replay goes on from the previous verdict; full=true verifies everything again', () => {
  let svc: TestService;
  let api: Api;
  const command = async (payload: unknown) => expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: payload })).status).toBe(201);
  const verdict = (query: Record<string, string> = {}) => api.call('GET', '/v1/replay', {}, { token: svc.tokens.auditor, query });

  beforeAll(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    await command(body.createSubscription());
    await command(body.registerNode('gw'));
  }, 60_000);
  afterAll(async () => svc?.close());

  it('verifies only the new events on the next request, and all of them with full=true', async () => {
    const first = await verdict();
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ ok: true, mode: 'full', verifiedNow: first.body.events });
    await command(body.enrolNode('gw'));
    const next = await verdict();
    expect(next.body).toMatchObject({ ok: true, mode: 'incremental', events: first.body.events + 1, verifiedNow: 1 });
    expect(next.body.kinds.node).toEqual({ entities: 1, events: 2, states: { enrolled: 1 } });
    const full = await verdict({ full: 'true' });
    expect(full.body).toMatchObject({ ok: true, mode: 'full', events: next.body.events, verifiedNow: next.body.events });
    expect(full.body.kinds).toEqual(next.body.kinds);
  });

  it('refuses a full parameter that is not true or false, naming it', async () => {
    const bad = await verdict({ full: 'yes' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/full/);
  });
});
