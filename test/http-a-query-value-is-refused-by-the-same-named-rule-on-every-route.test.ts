import { describe, expect, it } from 'vitest';
import { useTestService, type TestService } from './support/service.ts';

/*
 * Review 199: a field error's `rule` is what a client branches on, yet it depended on the route. `?limit=abc` was rule
 * `custom` on /v1/entities and /v1/tokens (domain/whole-number.ts raised a bare custom issue) but `invalid_format` on
 * /v1/compliance/*; `?stream=nonsense` on /v1/events was `custom`; and `?kind=node&kind=node` on /v1/entities was
 * `invalid_value` "expected one of node|…", though `node` is one: the fault is sending it twice. Text not of the form
 * wanted is now `invalid_format` wherever it is refused, and a parameter that takes one value, sent more than once,
 * is `repeated` on every route; a list parameter still takes repeats.
 */

const svc = useTestService();

const get = async (role: keyof TestService['tokens'], path: string) => {
  const response = await fetch(new URL(path, svc.url), { headers: { authorization: `Bearer ${svc.tokens[role]}`, accept: 'application/json' } });
  const body = (await response.json()) as { errors?: { path: string; rule: string; message: string }[] };
  return { status: response.status, errors: body.errors };
};

describe('a query value', () => {
  it.each([
    ['auditor', '/v1/entities?limit=abc', 'query.limit'],
    ['admin', '/v1/tokens?limit=abc', 'query.limit'],
    ['auditor', '/v1/compliance/revocations?limit=abc', 'query.limit'],
    ['auditor', '/v1/entities/node/n-1/dependents?limit=abc', 'query.limit'],
    ['auditor', '/v1/events?stream=nonsense', 'query.stream.0'],
  ] as const)('not of the form wanted is rule invalid_format, with a message saying the form: %s %s', async (role, path, field) => {
    const { status, errors } = await get(role, path);
    expect(status).toBe(400);
    expect(errors).toEqual([{ path: field, rule: 'invalid_format', message: expect.stringMatching(/number|<kind>-<id>/) }]);
  });

  it.each([
    ['auditor', '/v1/entities?kind=node&kind=node', 'query.kind'],
    ['admin', '/v1/tokens?limit=5&limit=5', 'query.limit'],
    ['auditor', '/v1/compliance/revocations?limit=5&limit=5', 'query.limit'],
    ['auditor', '/v1/events?from=end&from=end', 'query.from'],
  ] as const)('that takes one value, sent twice, is rule repeated: %s %s', async (role, path, field) => {
    const { status, errors } = await get(role, path);
    expect(status).toBe(400);
    expect(errors).toEqual([{ path: field, rule: 'repeated', message: expect.stringContaining('once') }]);
  });

  it('of a list parameter may be repeated', async () => {
    const controller = new AbortController();
    const response = await fetch(new URL('/v1/events?from=end&kind=node&kind=node', svc.url), {
      headers: { authorization: `Bearer ${svc.tokens.auditor}`, accept: 'text/event-stream' },
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    controller.abort();
  });
});
