import { describe, expect, it } from 'vitest';
import { parseQueryString } from '../adapters/http/query-string.ts';
import { useTestService } from './support/service.ts';

/*
 * Review 135: a query value whose percent-escapes do not decode was read as sent: `GET /v1/compliance/actions?actor=%ZZ`
 * answered 200 with `params.actor` "%ZZ" and no rows, where a body's bytes that are not UTF-8 are refused (rule `utf8`).
 */

const svc = useTestService();

const get = async (pathAndQuery: string) => {
  const answer = await fetch(`${svc.url}${pathAndQuery}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
  return { status: answer.status, body: (await answer.json()) as { type?: string; errors?: { path: string; rule: string; message: string }[]; params?: Record<string, unknown> } };
};

describe('a query value whose escapes do not decode', () => {
  it.each([
    ['/v1/compliance/actions?actor=%ZZ', 'query.actor', 'url_encoding'],
    ['/v1/compliance/actions?actor=x%', 'query.actor', 'url_encoding'],
    ['/v1/compliance/actions?actor=%E', 'query.actor', 'url_encoding'],
    ['/v1/compliance/actions?actor=%FF', 'query.actor', 'utf8'],
    ['/v1/compliance/actions?actor=%ED%A0%80', 'query.actor', 'utf8'],
    ['/v1/compliance/provisioned?subscription=%C3', 'query.subscription', 'utf8'],
    ['/v1/entities?kind=node&cursor=%C3%28', 'query.cursor', 'utf8'],
    ['/v1/compliance/actions?%ZZ=x', 'query', 'url_encoding'],
  ])('%s is 400 validation naming %s, rule %s, the value not echoed', async (pathAndQuery, path, rule) => {
    const { status, body } = await get(pathAndQuery);
    expect(status).toBe(400);
    expect(body.type).toBe('https://credence.dev/problems/validation');
    expect(body.errors).toEqual([{ path, rule, message: expect.any(String) }]);
    expect(JSON.stringify(body)).not.toMatch(/%ZZ|%FF|%C3|%ED/);
  });

  it('is refused only after the token is checked, as the query schema is', async () => {
    const answer = await fetch(`${svc.url}/v1/compliance/actions?actor=%ZZ`);
    expect(answer.status).toBe(401);
  });

  it('escapes that decode, and + as a space, are read as before', async () => {
    const { status, body } = await get('/v1/compliance/actions?actor=caf%C3%A9+au+lait');
    expect(status).toBe(200);
    expect(body.params).toMatchObject({ actor: 'café au lait' });
  });
});

describe('the query string parser', () => {
  it('reads what Fastify read: repeated names as a list, a name without = as empty, empty pairs skipped', () => {
    expect({ ...parseQueryString('a=1&a=2&a=3&b&&=c&d=e%3Df%26g&%2B=%2B') }).toEqual({ a: ['1', '2', '3'], b: '', '': 'c', d: 'e=f&g', '+': '+' });
    expect(Object.getPrototypeOf(parseQueryString('__proto__=x'))).toBeNull();
  });

  it('leaves a pair that does not decode out, so that nothing reads it as sent', () => {
    expect({ ...parseQueryString('a=%ZZ&b=1&%FF=2') }).toEqual({ b: '1' });
  });
});
