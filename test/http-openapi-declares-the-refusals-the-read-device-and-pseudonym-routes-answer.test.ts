/**
 * Review 432: the OpenAPI document said less than the routes answer. POST /v1/pseudonyms/resolutions answered 404
 * `not_found` and 409 `resolution_limit`, `pseudonym_too_long`, `broken_history`, and the rotations 501
 * `pseudonyms_unavailable`, none declared; the entity reads answered 404 `not_found`, every route with path or query
 * parameters 400 `validation`, and the device protocol steps 422 `protocol`, all under the 4XX catch-all; the token's
 * `ttl` was documented without the 1 s floor and the caller's ceiling the route refuses by; a position was a digit
 * string of any length (the routes refuse one past 2^63-1); and the hello's `credentialId`, always required over HTTP,
 * was documented optional. Each is declared now, and real answers of the new kinds match what is declared.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApi, type Api } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

type Schema = Record<string, unknown>;
interface Response { content?: Record<string, { schema?: Schema }> }
interface Operation {
  responses: Record<string, Response>;
  parameters?: { name: string; in: string; schema: Schema }[];
  requestBody?: { content: Record<string, { schema: Schema }> };
}
type Doc = { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Schema> } };

const REF = '#/components/schemas/';

describe('the OpenAPI document declares what the read, device and pseudonym routes answer', () => {
  let svc: TestService;
  let api: Api;
  let doc: Doc;
  beforeAll(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    doc = api.doc as unknown as Doc;
  }, 60_000);
  afterAll(async () => {
    await svc?.close();
  });

  const resolve = (schema: Schema | undefined): Schema => {
    const ref = schema?.['$ref'];
    return typeof ref === 'string' ? resolve(doc.components.schemas[ref.replace(REF, '')]) : (schema ?? {});
  };
  /** The components a problem answer is: one `$ref`, or each of its `anyOf`. */
  const refsOf = (response: Response | undefined): string[] => {
    const schema = response?.content?.['application/problem+json']?.schema ?? {};
    const all = Array.isArray(schema['anyOf']) ? (schema['anyOf'] as Schema[]) : [schema];
    return all.map((s) => String(s['$ref']).replace(REF, ''));
  };
  /** The member names a Problem subtype component has, its `allOf` parts' included. */
  const membersOf = (name: string): string[] => {
    const schema = doc.components.schemas[name] ?? {};
    const parts = (schema['allOf'] as Schema[] | undefined) ?? [schema];
    return parts.flatMap((part) => (typeof part['$ref'] === 'string' ? membersOf(part['$ref'].replace(REF, '')) : Object.keys((part['properties'] as Schema | undefined) ?? {})));
  };
  const op = (path: string, method = 'get'): Operation => {
    const found = doc.paths[path]?.[method];
    expect(found, `${method} ${path}`).toBeDefined();
    return found!;
  };
  const param = (path: string, name: string, where: string): Schema => {
    const found = op(path).parameters?.find((p) => p.name === name && p.in === where);
    expect(found, `${path} ${where} ${name}`).toBeDefined();
    return found!.schema;
  };

  it('declares the resolutions’ 404 and 409s, each with its members, and the rotations’ 501', () => {
    const resolutions = op('/v1/pseudonyms/resolutions', 'post').responses;
    expect(refsOf(resolutions['404'])).toEqual(['NotFoundProblem']);
    const conflicts = refsOf(resolutions['409']);
    expect(conflicts).toHaveLength(3);
    const members = conflicts.flatMap(membersOf);
    expect(members).toEqual(expect.arrayContaining(['limit', 'streamId', 'events', 'maxEvents', 'pseudonym', 'reason', 'eventType', 'position']));
    expect(op('/v1/pseudonyms/rotations', 'post').responses['501'], 'rotations 501').toBeDefined();
  });

  it('declares 404 not_found on the reads of one entity', () => {
    for (const path of [
      '/v1/entities/{kind}/{id}/timeline',
      '/v1/entities/{kind}/{id}/state',
      '/v1/entities/{kind}/{id}/dependents',
      '/v1/replay/{kind}/{id}',
      '/v1/transparency/evidence/{kind}/{id}',
    ]) {
      expect(refsOf(op(path).responses['404']), path).toEqual(['NotFoundProblem']);
    }
  });

  it('declares 400 validation on every route with path or query parameters', () => {
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        if (!(operation.parameters ?? []).some((p) => p.in === 'path' || p.in === 'query')) continue;
        const refs = refsOf(operation.responses['400']);
        if (`${method} ${path}` === 'get /v1/events') continue; // its own 400, with the stream's rules
        if (/^\/pki\/\{caId\}\/ocsp/.test(path)) continue; // an OCSP client is told in OCSP, never a 400 (openapi-ocsp-caching.ts)
        expect(refs, `${method} ${path} 400`).toContain('ValidationProblem');
      }
    }
  });

  it('declares 422 protocol, with step and reason, on the device protocol steps', () => {
    for (const path of ['/v1/enrolment/hello', '/v1/enrolment/auth', '/v1/registrar/associations/{associationId}/hello', '/v1/registrar/associations/{associationId}/finish']) {
      const refs = refsOf(op(path, 'post').responses['422']);
      expect(refs.flatMap(membersOf), path).toEqual(expect.arrayContaining(['step', 'reason']));
    }
  });

  it('documents ttl with the bounds the route refuses by, and each position no longer than 2^63-1 is', () => {
    const body = resolve(op('/v1/tokens', 'post').requestBody!.content['application/json']!.schema);
    const ttl = resolve((body['properties'] as Record<string, Schema>)['ttl']);
    const integer = (ttl['anyOf'] as Schema[]).find((s) => s['type'] === 'integer')!;
    expect(integer['minimum']).toBe(1);
    expect(integer['maximum']).toBeGreaterThan(1);
    expect(integer['maximum']).toBeLessThanOrEqual(7_776_000);
    // A position has 19 digits at most; a resume point (the event stream's) the same, then `~` and an 8-digit tag.
    for (const [path, name, where, length] of [
      ['/v1/transparency/proofs/inclusion', 'position', 'query', 19],
      ['/v1/entities/{kind}/{id}/timeline', 'after', 'query', 19],
      ['/v1/events', 'after', 'query', 28],
      ['/v1/events', 'last-event-id', 'header', 28],
    ] as const) {
      // The pattern's own schema: the parameter's, or its branch with the pattern (Last-Event-ID may also be empty).
      const schema = param(path, name, where);
      const patterned = typeof schema['pattern'] === 'string' ? schema : ((schema['anyOf'] as Schema[] | undefined) ?? []).find((s) => typeof s['pattern'] === 'string');
      expect(patterned?.['maxLength'], `${path} ${name}`).toBe(length);
    }
  });

  it('documents the hello’s credentialId as required', () => {
    const body = resolve(op('/v1/enrolment/hello', 'post').requestBody!.content['application/json']!.schema);
    expect(body['required']).toContain('credentialId');
  });

  it('answers each newly declared kind as declared', async () => {
    const auditor = { token: svc.tokens.auditor };
    const notFound = await api.call('GET', '/v1/entities/{kind}/{id}/timeline', { kind: 'node', id: 'no-such-node-432' }, { token: svc.tokens.operator });
    expect(notFound.status).toBe(404);
    const invalid = await api.call('GET', '/v1/entities/{kind}/{id}/timeline', { kind: 'node', id: 'n' }, { token: svc.tokens.operator, query: { after: 'x' } });
    expect(invalid.status).toBe(400);
    const unknown = await api.call('POST', '/v1/pseudonyms/resolutions', {}, { ...auditor, body: { pseudonym: 'p-aaaaaaaaaaaaaaaaaaaaaaaaaa', reason: 'review 432' } });
    expect(unknown.status).toBe(404);
  });
});
