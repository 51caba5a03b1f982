import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { complianceParametersOf, type Parameter } from './support/compliance-openapi-parameters.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 305 (low): only docs/service.md said that a date alone is that day's 00:00 UTC and that `to` is excluded: the
 * OpenAPI document gave from/to/now no description, and `credence query --help` called `--from` "inclusive" only. Both
 * say it now, and document `by` (what a revocations window goes by).
 */
describe('what a compliance time parameter means, where a caller reads it', () => {
  let svc: TestService;
  let parameterOf: (name: string) => Parameter;

  beforeAll(async () => {
    svc = await startTestService();
    parameterOf = await complianceParametersOf(svc);
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('the OpenAPI document: a date is 00:00 UTC for from, to and now; to is excluded; by is occurred or recorded', () => {
    for (const name of ['from', 'to', 'now']) expect(parameterOf(name).description).toMatch(/a date alone is that day's 00:00 UTC/);
    expect(parameterOf('from').description).toMatch(/included/);
    expect(parameterOf('to').description).toMatch(/excluded/);
    expect(parameterOf('by').schema).toEqual({ type: 'string', enum: ['occurred', 'recorded'] });
    expect(parameterOf('by').description).toMatch(/recorded late/);
  });

  it('the service takes by=recorded and refuses another value naming query.by', async () => {
    const ask = (by: string) => fetch(`${svc.url}/v1/compliance/revocations?by=${by}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    expect((await ask('recorded')).status).toBe(200);
    const refused = await ask('effective');
    expect(refused.status).toBe(400);
    expect(JSON.stringify(await refused.json())).toContain('query.by');
  });

  it('credence query --help says the same', async () => {
    const c = capture();
    await main(['query', '--help'], { ...c.io, env: {} });
    const help = [...c.out, ...c.err].join('\n').replace(/\s+/g, ' ');
    const of = (flag: string, next: string): string => help.slice(help.indexOf(`${flag} <value>`), help.indexOf(`${next} <value>`));
    expect(of('--from', '--to')).toMatch(/included.*a date alone is that day's 00:00 UTC/);
    expect(of('--to', '--by')).toMatch(/excluded.*a date alone is that day's 00:00 UTC/);
    expect(of('--by', '--actor')).toMatch(/occurred .*recorded/);
  });
});
