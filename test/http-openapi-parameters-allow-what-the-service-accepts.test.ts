import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema: Record<string, unknown>;
}

/*
 * Review 60: each numeric query parameter was documented as `number | string` with no bounds and no default,
 * `includeExpired` as any string, and the `Last-Event-ID` resume header as "" only. A client or validating proxy built
 * from the document sent values the service refuses, and refused the resume the service asks for. The compliance
 * queries' `from`, `to` and `limit` were any string too: the route passes them on as text to each query's own schema.
 */
describe('the OpenAPI document states the rules the service enforces on parameters', () => {
  let svc: TestService;
  let parameters: (path: string) => Parameter[];
  // Query values are text: an OpenAPI validator coerces them to the documented type before checking, as here.
  const ajv = new Ajv2020({ strict: false, coerceTypes: true });
  const parameterOf = (path: string, name: string): Parameter => {
    const found = parameters(path).find((p) => p.name === name);
    if (found === undefined) throw new Error(`${path} documents no parameter ${name}`);
    return found;
  };
  const documentAllows = (path: string, name: string, value: string): boolean => ajv.validate(parameterOf(path, name).schema, value);

  beforeAll(async () => {
    svc = await startTestService();
    const doc = (await (await fetch(`${svc.url}/openapi.json`)).json()) as { paths: Record<string, { get?: { parameters?: Parameter[] } }> };
    parameters = (path) => doc.paths[path]?.get?.parameters ?? [];
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('documents Last-Event-ID on GET /v1/events as "" or a position', () => {
    expect(parameterOf('/v1/events', 'last-event-id').in).toBe('header');
    expect(documentAllows('/v1/events', 'last-event-id', '1')).toBe(true);
    expect(documentAllows('/v1/events', 'last-event-id', '9223372036854775807')).toBe(true);
    expect(documentAllows('/v1/events', 'last-event-id', '')).toBe(true);
    expect(documentAllows('/v1/events', 'last-event-id', 'x')).toBe(false);
    expect(documentAllows('/v1/events', 'last-event-id', '01')).toBe(false);
  });

  it.each([
    ['/v1/tokens', 'limit', 1, 1_000, 100],
    ['/v1/entities', 'limit', 1, 500, 50],
    ['/v1/entities/{kind}/{id}/timeline', 'limit', 1, 500, undefined],
    ['/v1/entities/{kind}/{id}/dependents', 'limit', 1, 1_000, 200],
    ['/v1/replay', 'limit', 0, 10_000, 100],
    ['/v1/transparency/proofs/consistency', 'from', 1, Number.MAX_SAFE_INTEGER, undefined],
    ['/v1/transparency/proofs/consistency', 'to', 1, Number.MAX_SAFE_INTEGER, undefined],
    // Read by each compliance query's own schema, not by the route's (projections/compliance/catalog.ts).
    ['/v1/compliance/{query}', 'limit', 1, 10_000, 1_000],
  ] as const)('documents %s ?%s as an integer from %d to %d, default %s', (path, name, minimum, maximum, fallback) => {
    const { schema } = parameterOf(path, name);
    expect(schema).toMatchObject({ type: 'integer', minimum, maximum });
    expect(schema['default']).toBe(fallback);
  });

  it('documents includeExpired on GET /v1/tokens as true or false, default false', () => {
    expect(parameterOf('/v1/tokens', 'includeExpired').schema).toMatchObject({ type: 'string', enum: ['true', 'false'], default: 'false' });
  });

  it('documents the compliance windows ?from and ?to, and ?now, as a date-time with its offset or a date', () => {
    for (const name of ['from', 'to', 'now']) {
      const { schema } = parameterOf('/v1/compliance/{query}', name);
      expect(schema, name).toEqual({ anyOf: [expect.objectContaining({ type: 'string', format: 'date-time' }), expect.objectContaining({ type: 'string', format: 'date' })] });
    }
  });

  /** The path with an entity no test created: its 404 comes only once the query has passed. */
  const urlOf = (path: string) => path.replace('{kind}/{id}', 'node/n-absent').replace('{query}', 'revocations');

  it.each([
    ['/v1/entities', 'limit', '500', true],
    ['/v1/entities', 'limit', '501', false],
    ['/v1/entities', 'limit', '0', false],
    ['/v1/entities', 'limit', 'abc', false],
    ['/v1/tokens', 'limit', '1000', true],
    ['/v1/tokens', 'limit', '1001', false],
    ['/v1/tokens', 'includeExpired', 'true', true],
    ['/v1/tokens', 'includeExpired', 'maybe', false],
    ['/v1/replay', 'limit', '0', true],
    ['/v1/replay', 'limit', '10001', false],
    ['/v1/entities/{kind}/{id}/timeline', 'limit', '500', true],
    ['/v1/entities/{kind}/{id}/timeline', 'limit', '501', false],
    ['/v1/entities/{kind}/{id}/dependents', 'limit', '1000', true],
    ['/v1/entities/{kind}/{id}/dependents', 'limit', '1001', false],
    ['/v1/transparency/proofs/consistency', 'from', '0', false],
    ['/v1/compliance/{query}', 'limit', '10000', true],
    ['/v1/compliance/{query}', 'limit', '10001', false],
    ['/v1/compliance/{query}', 'limit', '0', false],
    ['/v1/compliance/{query}', 'limit', 'all', false],
    ['/v1/compliance/{query}', 'from', '2024-02-29', true],
    ['/v1/compliance/{query}', 'from', '2024-01-01T10:00:00+02:00', true],
    ['/v1/compliance/{query}', 'from', '2024-01-01T10:00:00.123Z', true],
    ['/v1/compliance/{query}', 'from', '2024-01-01T10:00:00', false],
    ['/v1/compliance/{query}', 'from', '2023-02-29', false],
    ['/v1/compliance/{query}', 'from', 'yesterday', false],
    ['/v1/compliance/{query}', 'to', '2024-01-01T00:00:00Z', true],
    ['/v1/compliance/{query}', 'to', '2024-01-01T00:00Z', false],
    ['/v1/compliance/{query}', 'to', '1704067200', false],
  ] as const)('%s ?%s=%s: the document and the service agree (allowed: %s)', async (path, name, value, allowed) => {
    expect(documentAllows(path, name, value)).toBe(allowed);
    const answer = await fetch(`${svc.url}${urlOf(path)}?${name}=${encodeURIComponent(value)}`, { headers: { authorization: `Bearer ${svc.tokens.admin}` } });
    // Allowed: past the query's check (an absent entity's 404 is past it too); refused: the query's 400, naming it.
    if (allowed) expect(answer.status).not.toBe(400);
    else expect(((await answer.json()) as { errors?: { path: string }[] }).errors?.[0]?.path).toBe(`query.${name}`);
  });
});
