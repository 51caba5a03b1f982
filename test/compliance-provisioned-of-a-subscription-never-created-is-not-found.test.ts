import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';
import { tempDirs } from './support/temp-dirs.ts';

/*
 * Review 155: `provisioned?subscription=sub-typo` answered an empty list, which reads as "nothing provisioned under it",
 * while a reversed window is refused. A subscription no SubscriptionCreated names is 404 `not_found` naming
 * `query.subscription`; one created with nothing provisioned under it still answers no rows.
 */

const cli = async (argv: string[]) => {
  const c = capture();
  const code = await main(argv, { ...c.io, env: {} });
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
};

describe('provisioned of a subscription never created', () => {
  let svc: TestService;
  let api: Api;
  const folders = tempDirs('credence-compliance-unknown-subscription-');
  const dir = folders.make();
  const get = (params: Record<string, string>, accept?: string) =>
    api.call<any>('GET', '/v1/compliance/{query}', { query: 'provisioned' }, { token: svc.tokens.auditor, query: params, ...(accept !== undefined ? { accept } : {}) });

  beforeAll(async () => {
    svc = await startTestService({ dir });
    api = await openApi(svc);
    for (const command of [body.createSubscription(), body.createSubscription('sub-empty'), body.registerNode('meter-1'), body.enrolNode('meter-1')]) {
      expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: command })).status).toBe(201);
    }
    await settled(svc);
  });
  afterAll(async () => {
    await svc?.close();
    folders.cleanup();
  });

  it('HTTP: 404 not_found naming query.subscription, as JSON and as CSV; a created one answers', async () => {
    for (const accept of ['application/json', 'text/csv']) {
      const refused = await get({ subscription: 'sub-typo' }, accept);
      expect(refused.status, accept).toBe(404);
      expect(refused.body).toMatchObject({ type: expect.stringMatching(/not_found$/), path: 'query.subscription' });
      expect(refused.body.detail).toMatch(/^query\.subscription: /);
    }
    const empty = await get({ subscription: 'sub-empty' });
    expect(empty.status).toBe(200);
    expect(empty.body.rows).toEqual([]);
    expect((await get({ subscription: 'sub-1' })).status).toBe(200);
  });

  it('credence query with --data: refused as not_found, nothing answered', async () => {
    await svc.close();
    const refused = await cli(['query', 'provisioned', '--subscription', 'sub-typo', '--data', dir]);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/refused \(not_found\): the `subscription` parameter names no M2M Service Subscription/);
    const answered = await cli(['query', 'provisioned', '--subscription', 'sub-empty', '--data', dir]);
    expect(answered.code, answered.err).toBe(0);
  });
});
