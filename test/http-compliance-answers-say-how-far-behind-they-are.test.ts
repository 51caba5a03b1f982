import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';
import { body } from './http-conformance.fixtures.ts';
import { settled } from './http-sse.fixtures.ts';

/*
 * Found in review: a compliance query answered from read models that were behind (a projection backing off, the
 * live runtime stopped) looked exactly like a whole answer: `dangling-associations` or `revocations` said nothing
 * was there, with 200 and nothing to tell the difference. The answer now says how many stored events the read
 * models had not handled (`eventsBehind`, and the `credence-events-behind` header, CSV included).
 */
describe('a compliance answer, and the other answers from read models', () => {
  let svc: TestService;
  const post = async (payload: unknown): Promise<void> => {
    const r = await fetch(`${svc.url}/v1/commands`, {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify(payload),
    });
    expect(r.status).toBe(201);
  };
  const revocations = (accept = 'application/json') =>
    fetch(`${svc.url}/v1/compliance/revocations`, { headers: { authorization: `Bearer ${svc.tokens.auditor}`, accept } });

  beforeAll(async () => {
    svc = await startTestService();
    for (const payload of [body.createSubscription(), body.registerNode('gw'), body.enrolNode('gw'), body.issueCredential('gw-c1', 'gw'), body.provisionCredential('gw-c1')]) {
      await post(payload);
    }
    await settled(svc);
  });
  afterAll(async () => {
    await svc?.close();
  });

  const readModelRoutes = ['/v1/entities/counts', '/v1/entities/credential/gw-c1/timeline', '/v1/entities/node/gw/dependents'];
  const lagOf = async (path: string): Promise<number> => {
    const r = await fetch(`${svc.url}${path}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    expect(r.status, path).toBe(200);
    return Number(r.headers.get('credence-events-behind'));
  };

  it('from whole read models says it is 0 events behind, as the audit trail and the entity graph do', async () => {
    const whole = await revocations();
    expect(whole.headers.get('credence-events-behind')).toBe('0');
    expect(await whole.json()).toMatchObject({ eventsBehind: 0, rows: [] });
    for (const path of readModelRoutes) expect(await lagOf(path)).toBe(0);
  });

  it('from read models behind the store says by how many events, in JSON and CSV alike', async () => {
    await svc.service.context.live.stop();
    await post(body.revokeCredential('gw-c1', 'keyCompromise'));
    const stale = await revocations();
    expect(stale.status).toBe(200);
    const answer = (await stale.json()) as { eventsBehind: number; rows: unknown[] };
    expect(answer.rows).toEqual([]);
    expect(answer.eventsBehind).toBeGreaterThan(0);
    expect(Number(stale.headers.get('credence-events-behind'))).toBe(answer.eventsBehind);
    const csv = await revocations('text/csv');
    expect(Number(csv.headers.get('credence-events-behind'))).toBeGreaterThan(0);
    for (const path of readModelRoutes) expect(await lagOf(path), path).toBeGreaterThan(0);
    // credence query --server says so on stderr, for JSON and CSV alike; --json carries it too.
    for (const format of [['--json'], ['--csv']]) {
      const c = capture();
      const code = await main(['query', 'revocations', '--server', svc.url, ...format], { ...c.io, env: { CREDENCE_TOKEN: svc.tokens.auditor } });
      expect(code, c.err.join('\n')).toBe(0);
      expect(c.err.join('\n')).toMatch(/note: the server's read models were \d+ event\(s\) behind its store when it answered/);
      if (format[0] === '--json') expect(JSON.parse(c.out.join('\n')).eventsBehind).toBeGreaterThan(0);
    }
  });
});
