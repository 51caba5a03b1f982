import { describe, expect, it } from 'vitest';
import { Problem } from '../adapters/console/src/schemas.ts';
import { useTestService } from './support/service.ts';

/*
 * Review 130, finding 4: a compliance query's `after` of 20 digits or more was refused as `invalid_format`, while one
 * of 19 digits above 2^63 - 1 was `position_range`: both are positions out of range, and a client told "format" looks
 * for a typo. Digits only, however many, name the range; anything else stays `invalid_format`.
 */

/**
 * Loaded by URL: the console's api.ts is typed against the DOM, which the service's tsconfig leaves out (as in
 * console-shows-a-refusals-reason-only-from-a-problem-document.test.ts).
 */
const { ApiError, describeError } = (await import(new URL('../adapters/console/src/api.ts', import.meta.url).href)) as {
  ApiError: new (status: number, problem: unknown, path: string) => Error;
  describeError: (error: unknown) => string;
};

const svc = useTestService();

const refusal = async (query: string): Promise<{ status: number; errors: ReadonlyArray<{ path: string; rule?: string }> }> => {
  const response = await fetch(`${svc.url}/v1/compliance/revocations?${query}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
  const body = (await response.json()) as { errors?: ReadonlyArray<{ path: string; rule?: string }> };
  return { status: response.status, errors: (body.errors ?? []).map(({ path, rule }) => ({ path, rule })) };
};

describe("a compliance query's after", () => {
  it.each([
    ['20 digits', '99999999999999999999'],
    ['19 digits above 2^63 - 1', '9223372036854775808'],
    ['200 digits', '9'.repeat(200)],
  ])('of %s is refused as position_range', async (_, after) => {
    expect(await refusal(`from=2000-01-01&after=${after}`)).toEqual({ status: 400, errors: [{ path: 'query.after', rule: 'position_range' }] });
  });

  it('is said by the console with its rule', async () => {
    const path = `/v1/compliance/revocations?from=2000-01-01&after=${'9'.repeat(20)}`;
    const response = await fetch(`${svc.url}${path}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    const said = describeError(new ApiError(response.status, Problem.parse(await response.json()), path));
    expect(said).toContain('query.after (position_range): a global position, at most 2^63 - 1');
    expect(said.match(/query\.after/g)).toHaveLength(1);
  });

  it('that is not all digits is refused as invalid_format, however long', async () => {
    expect(await refusal(`after=${'9'.repeat(20)}a`)).toEqual({ status: 400, errors: [{ path: 'query.after', rule: 'invalid_format' }] });
    expect(await refusal('after=-1')).toEqual({ status: 400, errors: [{ path: 'query.after', rule: 'invalid_format' }] });
  });

  it('within range is taken (0, which skips nothing)', async () => {
    const response = await fetch(`${svc.url}/v1/compliance/revocations?after=0`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    expect(response.status).toBe(200);
  });
});
