/**
 * Review 219: POST /v1/tokens with a fractional or overflowing `ttl` (`1.5`, `1e400`, which JSON reads as Infinity)
 * was refused as `body.ttl`, rule `invalid_union`, "Invalid input": zod's word for a value none of a union's forms
 * took, naming neither form; only a string in another form was told what to send. Now every value in no form the
 * lifetime takes is refused with one issue, rule `ttl_form`, naming the forms; one left out is `required`; and a value
 * in a form but out of bounds is still told the bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';

const FORMS = 'a whole number of seconds, or a count with s, m, h or d (e.g. 24h)';

describe('a token lifetime in another form is refused once, naming its forms', () => {
  let svc: TestService;

  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
  });

  /** POST /v1/tokens with `ttl` written as `ttlJson` (raw JSON text, or left out); the refusal's issues. */
  const issue = async (ttlJson: string | undefined) => {
    const ttl = ttlJson === undefined ? '' : `,"ttl":${ttlJson}`;
    const response = await fetch(`${svc.url}/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens.admin}`, 'content-type': 'application/json' },
      body: `{"subject":"zz-ttl","role":"auditor"${ttl}}`,
    });
    const body = (await response.json()) as { errors?: { path: string; rule: string; message: string }[] };
    return { status: response.status, errors: body.errors };
  };

  it.each([
    ['a fraction of a second', '1.5'],
    ['a number past any double (Infinity)', '1e400'],
    ['a whole number past the safe integers', '1e20'],
    ['a string with a fraction', '"1.5h"'],
    ['a string with another unit', '"24x"'],
    ['true', 'true'],
    ['null', 'null'],
    ['a list', '[60]'],
    ['an object', '{"seconds":60}'],
  ])('%s (%s) is one issue, rule ttl_form, naming the forms', async (_what, ttl) => {
    expect(await issue(ttl)).toEqual({ status: 400, errors: [{ path: 'body.ttl', rule: 'ttl_form', message: FORMS }] });
  });

  it('a lifetime left out is required, naming the forms', async () => {
    expect(await issue(undefined)).toEqual({ status: 400, errors: [{ path: 'body.ttl', rule: 'required', message: `is required: ${FORMS}` }] });
  });

  it.each([
    ['0', 'at least 1 second'],
    ['"0s"', 'at least 1 second'],
  ])('a lifetime in a form but out of bounds (%s) is told the bound', async (ttl, message) => {
    expect(await issue(ttl)).toMatchObject({ status: 400, errors: [{ path: 'body.ttl', message }] });
  });

  it.each(['60', '"60"', '"1h"'])('a lifetime in a form and in bounds (%s) is issued', async (ttl) => {
    expect((await issue(ttl)).status).toBe(201);
  });
});
