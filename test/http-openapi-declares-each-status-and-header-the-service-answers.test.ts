/**
 * Review 60, findings 3, 4 and 7: the OpenAPI document names the statuses an operation can answer beyond the 4XX/5XX
 * catch-all (401 with WWW-Authenticate and 403 on role routes, 413/415 on body routes, 429 and 503 with Retry-After,
 * 304 on the CRLs and the OCSP GET) and the headers that come with them (the CRL's validators, the compliance pager's
 * headers); every operation has a unique operationId, binary bodies say they are binary, a 201 says what it created,
 * and no component schema is left that no operation reaches. A live answer of each status is one the document declares,
 * carrying the headers it declares.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPkiService } from './support/pki-test-ca.ts';
import { startTestService, type TestService } from './support/service.ts';

interface Response {
  description?: string;
  headers?: Record<string, unknown>;
  content?: Record<string, { schema?: Record<string, unknown> }>;
}
interface Operation {
  operationId?: string;
  security?: unknown[];
  parameters?: { in: string; name: string }[];
  requestBody?: { content: Record<string, { schema?: Record<string, unknown> }> };
  responses: Record<string, Response>;
  'x-credence-access'?: unknown;
}
type Doc = { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } };

const fetchDoc = async (svc: TestService): Promise<Doc> => (await (await fetch(`${svc.url}/openapi.json`)).json()) as Doc;

const operations = (doc: Doc): [string, Operation][] =>
  Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]): [string, Operation] => [`${method.toUpperCase()} ${path}`, op]));

/** Headers a declared answer carries only sometimes: a damaged database's 503 has no Retry-After, a last page no next-after. */
const CONDITIONAL = new Set(['retry-after', 'credence-next-after']);

/**
 * `response` is an answer of a status the operation declares exactly, whose declared headers include `headers`, and it
 * carries every header declared for it.
 */
const expectDeclared = (doc: Doc, operation: string, response: globalThis.Response, headers: readonly string[] = []): void => {
  const [method, path] = operation.split(' ') as [string, string];
  const declared = doc.paths[path]?.[method.toLowerCase()]?.responses[String(response.status)];
  expect(declared, `${operation} declares ${response.status}`).toBeDefined();
  expect(Object.keys(declared!.headers ?? {}), `${operation} ${response.status} declares`).toEqual(expect.arrayContaining([...headers]));
  for (const name of Object.keys(declared!.headers ?? {})) {
    if (CONDITIONAL.has(name) && response.status !== 429) continue;
    expect(response.headers.get(name), `${operation} ${response.status} carries ${name}`).not.toBeNull();
  }
};

const problemRef = (response: Response | undefined): unknown => response?.content?.['application/problem+json']?.schema?.['$ref'];

describe('the OpenAPI document declares the statuses and headers the service answers with', () => {
  let svc: TestService;
  let doc: Doc;
  beforeAll(async () => {
    svc = await startPkiService('p256');
    doc = await fetchDoc(svc);
  }, 60_000);
  afterAll(async () => {
    await svc?.close();
  });

  it('gives every operation an operationId, each one unique', () => {
    const ids = operations(doc).map(([, op]) => op.operationId);
    expect(ids.filter((id) => typeof id !== 'string' || id.length === 0)).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
    expect(doc.paths['/v1/entities/{kind}/{id}/timeline']!['get']!.operationId).toBe('getV1EntitiesByKindByIdTimeline');
  });

  it('declares 401 with WWW-Authenticate and 403 on role routes, 413 and 415 on body routes, 429 and 503 with Retry-After, all problems', () => {
    for (const [name, op] of operations(doc)) {
      const r = op.responses;
      const roles = Array.isArray(op['x-credence-access']);
      expect(r['401'] !== undefined && r['403'] !== undefined, `${name} 401/403`).toBe(roles);
      if (roles) expect(Object.keys(r['401']!.headers ?? {}), name).toContain('www-authenticate');
      expect(r['413'] !== undefined && r['415'] !== undefined, `${name} 413/415`).toBe(op.requestBody !== undefined);
      // /healthz alone is out of the rate limit (routes/health.ts).
      expect(r['429'] !== undefined, `${name} 429`).toBe(name !== 'GET /healthz');
      for (const status of ['429', '503']) if (r[status] !== undefined) expect(Object.keys(r[status]!.headers ?? {}), `${name} ${status}`).toContain('retry-after');
      for (const status of ['401', '403', '413', '415', '429', '503', '4XX', '5XX']) {
        if (status === '4XX' || status === '5XX' || r[status] !== undefined) expect(problemRef(r[status]), `${name} ${status}`).toBe('#/components/schemas/Problem');
      }
    }
  });

  it('declares 304, the cache validators and If-None-Match on the CRLs and the OCSP GET', () => {
    for (const path of ['/pki/{caId}/crl', '/pki/{caId}/delta-crl', '/pki/{caId}/ocsp/{*}']) {
      const op = doc.paths[path]!['get']!;
      expect(op.responses['304'], path).toBeDefined();
      expect(op.responses['304']!.content, path).toBeUndefined();
      for (const status of ['200', '304']) expect(Object.keys(op.responses[status]!.headers ?? {}).sort(), `${path} ${status}`).toEqual(['cache-control', 'etag', 'expires', 'last-modified']);
      expect(op.parameters?.filter((p) => p.in === 'header').map((p) => p.name), path).toEqual(['if-none-match']);
    }
  });

  it("declares the compliance pager's headers on its 200", () => {
    const headers = doc.paths['/v1/compliance/{query}']!['get']!.responses['200']!.headers ?? {};
    expect(Object.keys(headers).sort()).toEqual(['credence-events-behind', 'credence-next-after', 'credence-truncated']);
  });

  it('types DER bodies as binary, says what each 201 created, and keeps no component no operation reaches', () => {
    const binaries = [
      doc.paths['/pki/{caId}/ca.crt']!['get']!.responses['200']!.content!['application/pkix-cert']!.schema,
      doc.paths['/pki/{caId}/crl']!['get']!.responses['200']!.content!['application/pkix-crl']!.schema,
      doc.paths['/pki/{caId}/ocsp/{*}']!['get']!.responses['200']!.content!['application/ocsp-response']!.schema,
      doc.paths['/pki/{caId}/ocsp']!['post']!.requestBody!.content['application/ocsp-request']!.schema,
    ];
    for (const schema of binaries) expect(schema).toMatchObject({ type: 'string', format: 'binary', contentMediaType: expect.stringMatching(/^application\//) });
    const created = operations(doc).filter(([, op]) => op.responses['201'] !== undefined);
    expect(created.length).toBeGreaterThanOrEqual(5);
    for (const [name, op] of created) expect(op.responses['201']!.description, name).not.toBe('Default Response');
    const text = JSON.stringify(doc.paths);
    expect(Object.keys(doc.components.schemas).filter((n) => !text.includes(`"#/components/schemas/${n}"`) && !JSON.stringify(doc.components.schemas).includes(`"#/components/schemas/${n}"`))).toEqual([]);
    expect(Object.keys(doc.components.schemas).filter((n) => n.endsWith('Input'))).toEqual([]);
  });

  it('answers a CRL 200 and, to If-None-Match, a 304, each declared and with its validators', async () => {
    const first = await fetch(`${svc.url}/pki/default/crl`);
    await first.arrayBuffer();
    expect(first.status).toBe(200);
    expectDeclared(doc, 'GET /pki/{caId}/crl', first, ['etag', 'last-modified', 'expires', 'cache-control']);
    const again = await fetch(`${svc.url}/pki/default/crl`, { headers: { 'if-none-match': first.headers.get('etag')! } });
    expect(again.status).toBe(304);
    expectDeclared(doc, 'GET /pki/{caId}/crl', again, ['etag']);
  });

  it('answers 401 with WWW-Authenticate, 403, 415 and 413 as declared', async () => {
    const unauthenticated = await fetch(`${svc.url}/v1/entities?kind=node`);
    expect(unauthenticated.status).toBe(401);
    expectDeclared(doc, 'GET /v1/entities', unauthenticated, ['www-authenticate']);
    const forbidden = await fetch(`${svc.url}/v1/tokens`, { headers: { authorization: `Bearer ${svc.tokens.operator}` } });
    expect(forbidden.status).toBe(403);
    expectDeclared(doc, 'GET /v1/tokens', forbidden);
    const post = (type: string, body: string) =>
      fetch(`${svc.url}/v1/tokens`, { method: 'POST', headers: { authorization: `Bearer ${svc.tokens.admin}`, 'content-type': type }, body });
    const unsupported = await post('text/plain', 'hello');
    expect(unsupported.status).toBe(415);
    expectDeclared(doc, 'POST /v1/tokens', unsupported);
    const tooLarge = await post('application/json', JSON.stringify({ subject: 'x'.repeat(2 * 1024 * 1024) }));
    expect(tooLarge.status).toBe(413);
    expectDeclared(doc, 'POST /v1/tokens', tooLarge);
  });

  it('answers a compliance page with the headers its 200 declares', async () => {
    const page = await fetch(`${svc.url}/v1/compliance/revocations`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    expect(page.status).toBe(200);
    expectDeclared(doc, 'GET /v1/compliance/{query}', page, ['credence-truncated', 'credence-events-behind']);
  });

  it('answers 429 with Retry-After as declared', async () => {
    const limited = await startTestService({ config: { limits: { rateLimitPerAddress: 1 } } });
    try {
      const limitedDoc = await fetchDoc(limited);
      // The document's own fetch spent the address's budget already, or this one does.
      let refused = await fetch(`${limited.url}/v1/enrolment`);
      if (refused.status !== 429) refused = await fetch(`${limited.url}/v1/enrolment`);
      expect(refused.status).toBe(429);
      expectDeclared(limitedDoc, 'GET /v1/enrolment', refused, ['retry-after']);
    } finally {
      await limited.close();
    }
  }, 60_000);
});
