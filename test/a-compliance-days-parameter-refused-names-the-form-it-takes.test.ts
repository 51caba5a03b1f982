/**
 * Found in review (fuzzing): the compliance `days` parameter was coerced with JavaScript's Number() from any
 * non-blank text, so `0x1e` read as 30 days, `0b11` as 3 and `1e1` as 10, and `abc` was refused as
 * `Invalid input: expected number, received NaN`. Now only decimal digits are read (as `limit` is), and any other
 * form is refused naming the form, over the CLI and HTTP alike (the same schema parses both); the range stays.
 */
import { describe, expect, it } from 'vitest';
import { COMPLIANCE_QUERIES } from '../projections/compliance/index.ts';
import { runCli } from './support/cli.ts';
import { useTestService } from './support/service.ts';

const FORM = 'a number of days in decimal digits, e.g. 30 or 1.5';
const OTHER_FORMS = ['0x1e', '0b11', '0o7', '1e1', 'abc', 'Infinity', '-Infinity', '+30', '30.', '.5', '3_0'] as const;

describe('the compliance days parameter', () => {
  const svc = useTestService();
  const server = (): string[] => ['--server', svc.url, '--token', svc.tokens.auditor];

  it.each(OTHER_FORMS)('days=%s is refused by the query schema naming the form, never read as a number', (value) => {
    const parsed = COMPLIANCE_QUERIES.expiring.params.safeParse({ days: value });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['days', FORM]]);
  });

  it.each(OTHER_FORMS)('expiring --days %s is bad usage on the CLI, naming the form', async (value) => {
    const { code, err } = await runCli(['query', 'expiring', '--days', value, ...server()]);
    expect(err).toBe(`error: --days: ${FORM}`);
    expect(code).toBe(2);
  });

  it.each(OTHER_FORMS)('GET /v1/compliance/expiring?days=%s is a 400 naming the field, the rule and the form', async (value) => {
    const reply = await fetch(`${svc.url}/v1/compliance/expiring?${new URLSearchParams({ days: value })}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    expect(reply.status).toBe(400);
    const problem = (await reply.json()) as { errors: { path: string; rule: string; message: string }[] };
    expect(problem.errors).toEqual([{ path: 'query.days', rule: 'invalid_format', message: FORM }]);
  });

  it.each(['30', '1.5', ' 30 ', '36500'])('days=%s is read as that many days', (value) => {
    expect(COMPLIANCE_QUERIES.expiring.params.parse({ days: value })).toMatchObject({ days: Number(value) });
  });

  it.each(['', ' '])('a blank days=%j is refused once, as blank, not read as 0 days', (value) => {
    const parsed = COMPLIANCE_QUERIES.expiring.params.safeParse({ days: value });
    expect(parsed.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['days', 'a number of days, e.g. 30']]);
  });

  it('0 days are refused (review 232): a window of none holds no instant, and answered an all-clear', () => {
    const parsed = COMPLIANCE_QUERIES.expiring.params.safeParse({ days: '0' });
    expect(parsed.error?.issues.map((i) => [i.path.join('.'), i.code])).toEqual([['days', 'too_small']]);
  });

  it('the range still holds: 36501 is too many days', () => {
    const parsed = COMPLIANCE_QUERIES.expiring.params.safeParse({ days: '36501' });
    expect(parsed.error?.issues.map((i) => [i.path.join('.'), i.code])).toEqual([['days', 'too_big']]);
  });

  it('30 days is answered over HTTP and through the CLI', async () => {
    const reply = await fetch(`${svc.url}/v1/compliance/expiring?days=30`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    expect(reply.status).toBe(200);
    const { code, out, err } = await runCli(['query', 'expiring', '--days', '30', ...server()]);
    expect([code, out, err]).toEqual([0, 'expiring: 0 rows', '']);
  });
});
