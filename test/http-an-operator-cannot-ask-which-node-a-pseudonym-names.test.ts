import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

/**
 * Found in review (SER-025, seed 004): POST /v1/commands ran `rotatePseudonym` with a pseudonym the caller named. The
 * engine refused it as not derived (400, rule `derived`) for every node but the one the pseudonym names, and as taken
 * (409, `active`) for that one: an operator learnt which node is behind a pseudonym by asking, node by node, and
 * nothing was recorded. Commands that name a pseudonym now run only through their own routes, which derive it
 * (rotations) or record who asks and why (resolutions).
 */
describe('POST /v1/commands and the commands that name a pseudonym', () => {
  let svc: TestService;
  let api: Api;
  let pseudonym = '';
  beforeAll(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    for (const node of ['named-meter', 'other-meter']) {
      expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: body.registerNode(node) })).status).toBe(201);
    }
    await settled(svc);
    for await (const e of svc.service.context.credence.store.readAll()) {
      if (e.type === 'PseudonymRotated' && e.data['nodeId'] === 'named-meter') pseudonym = String(e.data['pseudonym']);
    }
    expect(pseudonym).toMatch(/^p-[a-z2-7]{26}$/);
  });
  afterAll(async () => {
    await svc?.close();
  });

  const send = (data: Record<string, unknown>, type = 'rotatePseudonym') =>
    fetch(`${svc.url}/v1/commands`, {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type, data }),
    });
  const answer = async (response: Response) => ({ status: response.status, problem: (await response.json()) as Record<string, unknown> });

  it("answers a rotation naming the pseudonym alike for its own node and another, naming the route to use, and writes nothing", async () => {
    const head = await svc.service.context.credence.store.headPosition();
    const forItsNode = await answer(await send({ pseudonym, nodeId: 'named-meter', epoch: 0, trigger: 'demand' }));
    const forAnother = await answer(await send({ pseudonym, nodeId: 'other-meter', epoch: 0, trigger: 'demand' }));
    expect(forItsNode).toMatchObject({
      status: 400,
      problem: { errors: [{ path: 'body.type', rule: 'own_route', message: 'rotatePseudonym runs only through POST /v1/pseudonyms/rotations (from the CLI: credence pseudonym rotate <nodeId>)' }] },
    });
    const { requestId: _a, ...itsNode } = forItsNode.problem;
    const { requestId: _b, ...another } = forAnother.problem;
    expect([forAnother.status, another]).toEqual([forItsNode.status, itsNode]);
    expect(await svc.service.context.credence.store.headPosition()).toBe(head);
  });

  it('refuses a resolution the same way: it is recorded only through its own route', async () => {
    const head = await svc.service.context.credence.store.headPosition();
    const refused = await answer(await send({ pseudonym, reason: 'curious' }, 'resolvePseudonym'));
    expect(refused).toMatchObject({ status: 400, problem: { errors: [{ path: 'body.type', rule: 'own_route', message: 'resolvePseudonym runs only through POST /v1/pseudonyms/resolutions (from the CLI: credence pseudonym resolve <pseudonym> --reason TEXT)' }] } });
    expect(await svc.service.context.credence.store.headPosition()).toBe(head);
  });

  it('no longer lists them among the commands it takes (OpenAPI)', async () => {
    const document = (await (await fetch(`${svc.url}/openapi.json`)).json()) as unknown;
    const text = JSON.stringify(document);
    expect(text).toContain('"registerNode"');
    expect(text).not.toContain('"rotatePseudonym"');
    expect(text).not.toContain('"resolvePseudonym"');
  });
});
