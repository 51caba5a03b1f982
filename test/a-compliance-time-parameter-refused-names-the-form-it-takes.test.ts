/**
 * Found in review: a compliance query's `from`, `to` or `now` in another form was refused as `--from: Invalid input`
 * (zod's word for a value none of a union's forms took), naming the parameter but not what it must be. Now the
 * refusal names both forms, over the CLI and HTTP alike (the same schema parses both).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { useTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-instant-param-');

const FORM = 'an ISO 8601 date-time with its offset, e.g. 2026-01-01T00:00:00Z, or a date, e.g. 2026-01-01';

/** Each query given a bad time, beside the parameters it requires. */
const CASES: readonly { query: string; param: string; value: string; others: Readonly<Record<string, string>> }[] = [
  { query: 'revocations', param: 'from', value: 'garbage', others: {} },
  { query: 'actions', param: 'to', value: '2026-13-45', others: { actor: 'operator:alice' } },
  { query: 'expiring', param: 'now', value: 'garbage', others: { days: '30' } },
];

describe('a compliance query given a time in another form', () => {
  const svc = useTestService();

  it.each(CASES)('$query --$param $value is bad usage on the CLI, naming the form', async ({ query, param, value, others }) => {
    const flags = Object.entries(others).flatMap(([name, given]) => [`--${name}`, given]);
    const { code, err } = await runCli(['query', query, ...flags, `--${param}`, value, '--data', join(scratch(), 'data')]);
    expect(err).toBe(`error: --${param}: ${FORM}`);
    expect(code).toBe(2);
  });

  it.each(CASES)('$query?$param=$value is a 400 naming the field, the rule and the form', async ({ query, param, value, others }) => {
    const search = new URLSearchParams({ ...others, [param]: value });
    const reply = await fetch(`${svc.url}/v1/compliance/${query}?${search}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    expect(reply.status).toBe(400);
    const problem = (await reply.json()) as { errors: { path: string; rule: string; message: string }[] };
    expect(problem.errors).toEqual([{ path: `query.${param}`, rule: 'invalid_union', message: FORM }]);
  });

  it('still takes both forms', async () => {
    const search = new URLSearchParams({ from: '2026-01-01', to: '2026-02-01T00:00:00+01:00' });
    const reply = await fetch(`${svc.url}/v1/compliance/revocations?${search}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    expect(reply.status).toBe(200);
  });
});
