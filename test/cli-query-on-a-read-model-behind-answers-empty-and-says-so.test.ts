import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';
import { tempDirs } from './support/temp-dirs.ts';

/*
 * Review 272 (low): `credence query provisioned --subscription sub-2 --data <dir>` exited 1, "names no M2M Service
 * Subscription", when the compliance read model was merely behind (the process holding the folder not yet past the
 * SubscriptionCreated, a rebuild under way) and the store held it; the server answers no rows and says it is behind
 * (review 155's fallback). The CLI's local path now answers as the server does, by the same function; a subscription
 * the store does not hold either is still refused.
 */

const cli = async (argv: string[]) => {
  const c = capture();
  const code = await main(argv, { ...c.io, env: {} });
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
};

describe('credence query provisioned --data on read models behind the store', () => {
  const folders = tempDirs('credence-cli-query-behind-');
  const dir = folders.make();
  let svc: TestService;
  let api: Api;

  beforeAll(async () => {
    svc = await startTestService({ dir });
    api = await openApi(svc);
    for (const command of [body.createSubscription(), body.registerNode('meter-1'), body.enrolNode('meter-1')]) {
      expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: command })).status).toBe(201);
    }
    await settled(svc);
    // The read models stop where they are; the store goes on: sub-2 is stored, and no read model has handled it.
    await svc.service.context.live.stop();
    expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: body.createSubscription('sub-2') })).status).toBe(201);
  });
  afterAll(async () => {
    await svc?.close();
    folders.cleanup();
  });

  it('the server answers no rows and says it is behind (as before)', async () => {
    const answer = await api.call<{ rows: unknown[]; eventsBehind: number }>('GET', '/v1/compliance/{query}', { query: 'provisioned' }, { token: svc.tokens.auditor, query: { subscription: 'sub-2' } });
    expect(answer.status).toBe(200);
    expect(answer.body.rows).toEqual([]);
    expect(answer.body.eventsBehind).toBeGreaterThan(0);
  });

  it('the CLI on the folder answers no rows too, exit 0, and says the read models were behind', async () => {
    const lines = await cli(['query', 'provisioned', '--subscription', 'sub-2', '--data', dir]);
    expect(lines.code, lines.err).toBe(0);
    expect(lines.out).toBe('provisioned: 0 rows');
    expect(lines.err).toMatch(/note: the read models were \d+ event\(s\) behind the store/);
    const asJson = await cli(['query', 'provisioned', '--subscription', 'sub-2', '--json', '--data', dir]);
    expect(asJson.code, asJson.err).toBe(0);
    expect(JSON.parse(asJson.out)).toMatchObject({ query: 'provisioned', rows: [], truncated: false, eventsBehind: expect.any(Number) });
    expect(JSON.parse(asJson.out).eventsBehind).toBeGreaterThan(0);
  });

  it('a subscription the store does not hold either is still refused as not_found, nothing answered', async () => {
    const refused = await cli(['query', 'provisioned', '--subscription', 'sub-typo', '--data', dir]);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/refused \(not_found\): the `subscription` parameter names no M2M Service Subscription/);
    expect(refused.out).toBe('');
  });
});
