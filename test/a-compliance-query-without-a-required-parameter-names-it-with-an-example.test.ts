/**
 * Review 46: a compliance query run without a parameter it needs was refused unclearly: `expiring` without `days` as
 * `--days: Invalid input` (rule `invalid_union` over HTTP, the example lost inside a zod union), `actions` without
 * `actor` as `Invalid input: expected string, received undefined`. Now each is refused with the rule `required`,
 * naming the parameter, saying it is required and giving an example, over HTTP and the CLI alike.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { useTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-required-param-');

// `actions` also runs on a token id alone (review 200: its refusal did not say so).
const CASES = [
  { query: 'expiring', param: 'days', required: 'is required', example: 'a number of days, e.g. 30' },
  { query: 'actions', param: 'actor', required: 'is required unless tokenId is given', example: 'the actor id, e.g. operator:alice' },
  { query: 'provisioned', param: 'subscription', required: 'is required', example: 'the M2M Service Subscription id, e.g. sub-1' },
] as const;

describe('a compliance query without a parameter it requires', () => {
  const svc = useTestService();

  it.each(CASES)('$query without $param is refused over HTTP as required, naming it with an example', async ({ query, param, required, example }) => {
    const reply = await fetch(`${svc.url}/v1/compliance/${query}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    expect(reply.status).toBe(400);
    const problem = (await reply.json()) as { errors: { path: string; rule: string; message: string }[] };
    expect(problem.errors).toEqual([{ path: `query.${param}`, rule: 'required', message: `${required}: ${example}` }]);
  });

  it.each(CASES)('$query without --$param is bad usage on the CLI, naming it with an example', async ({ query, param, required, example }) => {
    const data = join(scratch(), 'data');
    const { code, err } = await runCli(['query', query, '--data', data]);
    // The command line names the other parameter by its flag too.
    expect(err).toBe(`error: --${param}: ${required.replace('tokenId', '--token-id')}: ${example}`);
    expect(code).toBe(2);
  });

  it('still refuses a blank days with what it must be, as before', async () => {
    const { code, err } = await runCli(['query', 'expiring', '--days', '', '--data', join(scratch(), 'data')]);
    expect(err).toBe('error: --days: a number of days, e.g. 30');
    expect(code).toBe(2);
  });
});
