import { describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';

/*
 * Review 120, finding 3: several refusals of GET /v1/events named the field but gave the rule as zod's `custom`: a
 * type or stream outside the kinds asked for, `after` together with `from`, and a position above 2^63 - 1 (while
 * `abc` gave `invalid_format`). Each now names its rule, as `not_published` and `not_in_scope` do on this route; the
 * position's rule is the same wherever a position is parsed (domain/positions.ts), here also the inclusion proof's.
 */

const svc = useTestService();

interface Refusal {
  readonly status: number;
  readonly errors: ReadonlyArray<{ readonly path: string; readonly rule: string }>;
}

const get = async (path: string, headers: Record<string, string> = {}): Promise<Refusal> => {
  const response = await fetch(new URL(path, svc.url), {
    headers: { accept: 'text/event-stream', authorization: `Bearer ${svc.tokens.auditor}`, ...headers },
  });
  const body = (await response.json()) as { errors?: Refusal['errors'] };
  return { status: response.status, errors: (body.errors ?? []).map(({ path, rule }) => ({ path, rule })) };
};

const TOO_LARGE = '9223372036854775808';

describe('GET /v1/events refuses with the rule that failed', () => {
  it.each([
    ['a type of another kind than those asked for', '/v1/events?kind=credential&type=NodeRevoked', 'query.type.0', 'type_not_in_kinds'],
    ['a stream of another kind than those asked for', '/v1/events?kind=credential&stream=node-meter-1', 'query.stream.0', 'stream_not_in_kinds'],
    ['after together with from', '/v1/events?after=5&from=end', 'query.from', 'after_with_from'],
    ['an after above 2^63 - 1', `/v1/events?after=${TOO_LARGE}`, 'query.after', 'position_range'],
    ['an after of more digits than 2^63 - 1 has (review 130: invalid_format)', `/v1/events?after=${'9'.repeat(20)}`, 'query.after', 'position_range'],
    ['an after that is no decimal', '/v1/events?after=abc', 'query.after', 'invalid_format'],
  ])('%s', async (_, path, field, rule) => {
    expect(await get(path)).toEqual({ status: 400, errors: [{ path: field, rule }] });
  });

  it('a Last-Event-ID above 2^63 - 1 as position_range, one that is no decimal as invalid_format', async () => {
    expect(await get('/v1/events', { 'last-event-id': TOO_LARGE })).toEqual({ status: 400, errors: [{ path: 'headers.last-event-id', rule: 'position_range' }] });
    expect(await get('/v1/events', { 'last-event-id': 'abc' })).toEqual({ status: 400, errors: [{ path: 'headers.last-event-id', rule: 'invalid_format' }] });
    expect(await get('/v1/events', { 'last-event-id': '1'.repeat(40) })).toEqual({ status: 400, errors: [{ path: 'headers.last-event-id', rule: 'position_range' }] });
  });
});

describe('GET /v1/events refuses a list over its bound as too_big, however it is written (review 354)', () => {
  const repeated = (name: string, value: string, times: number): string => `/v1/events?${Array.from({ length: times }, () => `${name}=${value}`).join('&')}`;
  const commas = (name: string, value: string, times: number): string => `/v1/events?${name}=${Array.from({ length: times }, () => value).join(',')}`;
  it.each([
    ['65 types, the parameter repeated', repeated('type', 'NodeRevoked', 65), 'query.type'],
    ['65 types, comma-separated', commas('type', 'NodeRevoked', 65), 'query.type'],
    ['9 kinds, the parameter repeated', repeated('kind', 'node', 9), 'query.kind'],
    ['9 kinds, comma-separated', commas('kind', 'node', 9), 'query.kind'],
    ['101 streams, the parameter repeated', repeated('stream', 'node-meter-1', 101), 'query.stream'],
  ])('%s', async (_, path, field) => {
    expect(await get(path)).toEqual({ status: 400, errors: [{ path: field, rule: 'too_big' }] });
  });
});

describe('a position above 2^63 - 1 on another route', () => {
  it('is refused as position_range too (the inclusion proof)', async () => {
    expect(await get(`/v1/transparency/proofs/inclusion?position=${TOO_LARGE}`)).toEqual({ status: 400, errors: [{ path: 'query.position', rule: 'position_range' }] });
  });

  it('is refused as position_range by a compliance query too (its page cursor, after)', async () => {
    expect(await get(`/v1/compliance/revocations?after=${TOO_LARGE}`)).toEqual({ status: 400, errors: [{ path: 'query.after', rule: 'position_range' }] });
  });
});

/*
 * Review 358, finding 2: the repeated form's bound was raised to max × 257 inside the union so that a list past its
 * limit was refused too_big, and the OpenAPI document published that: maxItems 16,448 types, 1,542 kinds, 25,700
 * streams, where the server refuses past 64, 6 and 100. What the document states is the bound the server refuses past.
 */
describe('the OpenAPI document states the bound GET /v1/events refuses a list past', () => {
  interface Parameter {
    readonly name: string;
    readonly in: string;
    readonly description?: string;
    readonly schema?: unknown;
  }
  /** Every maxItems the parameter's schema states, however deep (the array branch of the union). */
  const maxItemsOf = (schema: unknown): number[] => {
    if (typeof schema !== 'object' || schema === null) return [];
    const own = 'maxItems' in schema && typeof schema.maxItems === 'number' ? [schema.maxItems] : [];
    return [...own, ...Object.values(schema).flatMap(maxItemsOf)];
  };

  it.each([['kind', 'node'], ['type', 'NodeRevoked'], ['stream', 'node-meter-1']])('%s', async (name, value) => {
    const doc = (await (await fetch(new URL('/openapi.json', svc.url))).json()) as { paths: Record<string, { get: { parameters: Parameter[] } }> };
    const parameter = doc.paths['/v1/events']!.get.parameters.find((p) => p.in === 'query' && p.name === name)!;
    const bound = Number(/At most (\d+)\./.exec(parameter.description ?? '')?.[1]);
    expect(bound).toBeGreaterThan(0);
    expect(maxItemsOf(parameter.schema)).toEqual([bound]);
    const path = `/v1/events?${Array.from({ length: bound + 1 }, () => `${name}=${value}`).join('&')}`;
    expect(await get(path)).toEqual({ status: 400, errors: [{ path: `query.${name}`, rule: 'too_big' }] });
  });
});
