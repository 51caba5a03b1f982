/**
 * Review 60, findings 3, 4 and 7: the OpenAPI document names the statuses an operation can answer beyond the 4XX/5XX
 * catch-all (401 with WWW-Authenticate and 403 on role routes, 413/415 on body routes, 429 and 503 with Retry-After,
 * 304 on the CRLs and the OCSP GET) and the headers that come with them (the CRL's validators, the compliance pager's
 * headers); every operation has a unique operationId, binary bodies say they are binary, a 201 says what it created,
 * and no component schema is left that no operation reaches. A live answer of each status is one the document declares,
 * carrying the headers it declares.
 * Review 60's last gaps: no response is described "Default Response"; the headers the service's hooks put on answers
 * (x-request-id, the rate limit's count, `Cache-Control: no-store` for a token's reads) are declared on the answers that
 * carry them, and a live answer carries none of them undeclared; the OCSP GET's wildcard is documented as `{request}`,
 * and a client filling that template in is answered by the responder.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as pkijs from 'pkijs';
import { NO_STORE_WITH_A_TOKEN } from '../adapters/http/response-headers.ts';
import { cmd } from './support/fleet.ts';
import { ocspRequest, ocspStatus } from './support/ocsp-client.ts';
import { issueCertifiedCredential, pkiOf, startPkiService } from './support/pki-test-ca.ts';
import { startTestService, type TestService } from './support/service.ts';

interface Response {
  description?: string;
  headers?: Record<string, { description?: string }>;
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
const CONDITIONAL = new Set(['retry-after', 'credence-next-after', 'credence-events-behind-at-least']);

/** The headers the service's own hooks add (server.ts, protection.ts, baseline-headers.ts), declared where they are sent. */
const HOOKS_HEADERS = ['x-request-id', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'cache-control'] as const;

/** How a header is declared that the service sends only to a request with an Authorization header. */
const ONLY_WITH_A_TOKEN = NO_STORE_WITH_A_TOKEN['cache-control']!.description;

/**
 * `response` is an answer of a status the operation declares exactly, whose declared headers include `headers`, and it
 * carries every header declared for it (one declared for a request with a token: only if `withToken`), and declared
 * every header of the hooks it carries.
 */
const expectDeclared = (doc: Doc, operation: string, response: globalThis.Response, headers: readonly string[] = [], withToken = false): void => {
  const [method, path] = operation.split(' ') as [string, string];
  const declared = doc.paths[path]?.[method.toLowerCase()]?.responses[String(response.status)];
  expect(declared, `${operation} declares ${response.status}`).toBeDefined();
  expect(Object.keys(declared!.headers ?? {}), `${operation} ${response.status} declares`).toEqual(expect.arrayContaining([...headers]));
  for (const name of Object.keys(declared!.headers ?? {})) {
    if (CONDITIONAL.has(name) && response.status !== 429) continue;
    if (declared!.headers![name]!.description === ONLY_WITH_A_TOKEN && !withToken) {
      expect(response.headers.get(name), `${operation} ${response.status} without a token carries no ${name}`).toBeNull();
      continue;
    }
    expect(response.headers.get(name), `${operation} ${response.status} carries ${name}`).not.toBeNull();
  }
  const carried = HOOKS_HEADERS.filter((name) => response.headers.get(name) !== null);
  expect(Object.keys(declared!.headers ?? {}), `${operation} ${response.status} declares what it carries`).toEqual(expect.arrayContaining(carried));
  // Review 416: and each of Credence's own headers it carries (credence-*), as the compliance pager's are.
  const own = [...response.headers.keys()].filter((name) => name.startsWith('credence-'));
  expect(Object.keys(declared!.headers ?? {}), `${operation} ${response.status} declares the credence-* headers it carries`).toEqual(expect.arrayContaining(own));
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
      // Review 367: the 403 of a role says insufficient_scope.
      if (roles) expect(Object.keys(r['403']!.headers ?? {}), `${name} 403`).toContain('www-authenticate');
      expect(r['413'] !== undefined && r['415'] !== undefined, `${name} 413/415`).toBe(op.requestBody !== undefined);
      // /healthz alone is out of the rate limit (routes/health.ts); the OCSP GET answers it, and load shedding, `tryLater`
      // (test/http-openapi-ocsp-routes-declare-the-answers-they-give.test.ts).
      expect(r['429'] !== undefined, `${name} 429`).toBe(name !== 'GET /healthz' && name !== 'GET /pki/{caId}/ocsp/{request}');
      for (const status of ['429', '503']) if (r[status] !== undefined) expect(Object.keys(r[status]!.headers ?? {}), `${name} ${status}`).toContain('retry-after');
      for (const status of ['401', '403', '413', '415', '429', '503', '4XX', '5XX']) {
        if (status === '4XX' || status === '5XX' || r[status] !== undefined) expect(problemRef(r[status]), `${name} ${status}`).toBe('#/components/schemas/Problem');
      }
    }
  });

  it('declares 304, the cache validators and If-None-Match on the CRLs and the OCSP GET', () => {
    for (const path of ['/pki/{caId}/crl', '/pki/{caId}/delta-crl', '/pki/{caId}/ocsp/{request}']) {
      const op = doc.paths[path]!['get']!;
      expect(op.responses['304'], path).toBeDefined();
      expect(op.responses['304']!.content, path).toBeUndefined();
      for (const status of ['200', '304']) {
        expect(Object.keys(op.responses[status]!.headers ?? {}), `${path} ${status}`).toEqual(expect.arrayContaining(['cache-control', 'etag', 'expires', 'last-modified']));
      }
      expect(op.parameters?.filter((p) => p.in === 'header').map((p) => p.name), path).toEqual(['if-none-match']);
    }
  });

  it("declares the compliance pager's headers on its 200", () => {
    const headers = doc.paths['/v1/compliance/{query}']!['get']!.responses['200']!.headers ?? {};
    expect(Object.keys(headers).filter((name) => name.startsWith('credence-')).sort()).toEqual(['credence-events-behind', 'credence-events-behind-at-least', 'credence-next-after', 'credence-truncated']);
  });

  it('describes every response: none is "Default Response", a success says what it answers', () => {
    const defaults = operations(doc).flatMap(([name, op]) =>
      Object.entries(op.responses).filter(([, response]) => response.description === 'Default Response').map(([status]) => `${name} ${status}`),
    );
    expect(defaults).toEqual([]);
    expect(doc.paths['/v1/commands']!['post']!.responses['200']!.description).toMatch(/^Deduplicated/);
    expect(doc.paths['/v1/commands']!['post']!.responses['201']!.description).toMatch(/^Recorded/);
  });

  it("declares x-request-id on every answer, the rate limit's count on the counted routes' answers, no-store on a role route's", () => {
    for (const [name, op] of operations(doc)) {
      for (const [status, response] of Object.entries(op.responses)) {
        const headers = Object.keys(response.headers ?? {});
        expect(headers, `${name} ${status}`).toContain('x-request-id');
        // /healthz alone is out of the rate limit; a 503 of load shedding or shutdown is refused before the count.
        const counted = name !== 'GET /healthz' && !['503', '4XX', '5XX'].includes(status);
        expect(headers.filter((h) => h.startsWith('x-ratelimit-')).sort(), `${name} ${status}`).toEqual(
          counted ? ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'] : [],
        );
        if (Array.isArray(op['x-credence-access']) && /^[23]/.test(status)) expect(headers, `${name} ${status}`).toContain('cache-control');
      }
    }
  });

  it('documents the OCSP GET wildcard as the path parameter `request`', () => {
    expect(Object.keys(doc.paths).filter((path) => path.includes('{*}'))).toEqual([]);
    const op = doc.paths['/pki/{caId}/ocsp/{request}']!['get']!;
    expect(op.parameters?.filter((p) => p.in === 'path').map((p) => p.name)).toEqual(['caId', 'request']);
    expect(op.operationId).toBe('getPkiByCaIdOcspByRequest');
  });

  it('types DER bodies as binary, says what each 201 created, and keeps no component no operation reaches', () => {
    const binaries = [
      doc.paths['/pki/{caId}/ca.crt']!['get']!.responses['200']!.content!['application/pkix-cert']!.schema,
      doc.paths['/pki/{caId}/crl']!['get']!.responses['200']!.content!['application/pkix-crl']!.schema,
      doc.paths['/pki/{caId}/ocsp/{request}']!['get']!.responses['200']!.content!['application/ocsp-response']!.schema,
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
    expectDeclared(doc, 'GET /v1/tokens', forbidden, ['www-authenticate'], true);
    const post = (type: string, body: string) =>
      fetch(`${svc.url}/v1/tokens`, { method: 'POST', headers: { authorization: `Bearer ${svc.tokens.admin}`, 'content-type': type }, body });
    const unsupported = await post('text/plain', 'hello');
    expect(unsupported.status).toBe(415);
    expectDeclared(doc, 'POST /v1/tokens', unsupported, [], true);
    const tooLarge = await post('application/json', JSON.stringify({ subject: 'x'.repeat(2 * 1024 * 1024) }));
    expect(tooLarge.status).toBe(413);
    expectDeclared(doc, 'POST /v1/tokens', tooLarge, [], true);
  });

  it('answers a compliance page with the headers its 200 declares', async () => {
    const page = await fetch(`${svc.url}/v1/compliance/revocations`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    expect(page.status).toBe(200);
    expectDeclared(doc, 'GET /v1/compliance/{query}', page, ['credence-truncated', 'credence-events-behind'], true);
  });

  /**
   * Review 416 (F2): the entity routes that wait for the read models (readYourWritesInto) send the lag headers the
   * compliance answers do, and their 200s declared none of them.
   */
  it('answers the entity routes that read the read models with the lag headers their 200 declares', async () => {
    const operator = { authorization: `Bearer ${svc.tokens.operator}` };
    const { type, data } = cmd.createSubscription('sub-openapi-lag');
    const created = await fetch(`${svc.url}/v1/commands`, { method: 'POST', headers: { ...operator, 'content-type': 'application/json' }, body: JSON.stringify({ type, data }) });
    expect(created.status).toBe(201);
    await created.arrayBuffer();
    const lagHeaders = ['credence-events-behind', 'credence-events-behind-at-least'];
    for (const [operation, path] of [
      ['GET /v1/entities', '/v1/entities?kind=subscription'],
      ['GET /v1/entities/counts', '/v1/entities/counts'],
      ['GET /v1/entities/{kind}/{id}/timeline', '/v1/entities/subscription/sub-openapi-lag/timeline'],
      ['GET /v1/entities/{kind}/{id}/timeline', '/v1/entities/subscription/sub-openapi-lag/timeline?limit=1'],
      ['GET /v1/entities/{kind}/{id}/dependents', '/v1/entities/subscription/sub-openapi-lag/dependents'],
    ] as const) {
      const answer = await fetch(`${svc.url}${path}`, { headers: operator });
      expect(answer.status, path).toBe(200);
      await answer.arrayBuffer();
      expect(answer.headers.get('credence-events-behind'), path).toBe('0');
      expectDeclared(doc, operation, answer, lagHeaders, true);
    }
  });

  it('answers the documented OCSP GET template, filled in encoded, from the responder, as declared', async () => {
    const leaf = await issueCertifiedCredential(svc, 'cred-openapi-ocsp');
    const der = await ocspRequest(leaf, pkiOf(svc).cas[0]!);
    const template = Object.keys(doc.paths).find((path) => path.startsWith('/pki/{caId}/ocsp/'))!;
    const path = template.replace('{caId}', 'default').replace('{request}', encodeURIComponent(Buffer.from(der).toString('base64')));
    const answer = await fetch(`${svc.url}${path}`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/ocsp-response');
    const body = new Uint8Array(await answer.arrayBuffer());
    expect(pkijs.OCSPResponse.fromBER(body).responseStatus.valueBlock.valueDec).toBe(0);
    expect(ocspStatus(body)).toBe('good');
    expectDeclared(doc, `GET ${template}`, answer, ['etag', 'x-request-id', 'x-ratelimit-limit']);
  });

  it("answers with x-request-id, the rate limit's count and no-store where the document declares them", async () => {
    const bearer = (role: keyof TestService['tokens']) => ({ authorization: `Bearer ${svc.tokens[role]}` });
    const alive = await fetch(`${svc.url}/healthz`);
    await alive.arrayBuffer();
    expectDeclared(doc, 'GET /healthz', alive, ['x-request-id']);
    expect(alive.headers.get('x-ratelimit-limit')).toBeNull();
    const ready = await fetch(`${svc.url}/readyz`);
    await ready.arrayBuffer();
    expectDeclared(doc, 'GET /readyz', ready, ['x-request-id', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']);
    const listed = await fetch(`${svc.url}/v1/tokens`, { headers: bearer('admin') });
    await listed.arrayBuffer();
    expectDeclared(doc, 'GET /v1/tokens', listed, ['cache-control'], true);
    const issued = await fetch(`${svc.url}/v1/tokens`, {
      method: 'POST',
      headers: { ...bearer('admin'), 'content-type': 'application/json' },
      body: JSON.stringify({ subject: 'openapi-headers', role: 'auditor', ttl: '30m' }),
    });
    await issued.arrayBuffer();
    expect(issued.status).toBe(201);
    expect(issued.headers.get('cache-control')).toBe('no-store');
    expectDeclared(doc, 'POST /v1/tokens', issued, ['x-request-id', 'x-ratelimit-limit', 'cache-control'], true);
    const abort = new AbortController();
    const stream = await fetch(`${svc.url}/v1/events`, { headers: bearer('auditor'), signal: abort.signal });
    abort.abort();
    expectDeclared(doc, 'GET /v1/events', stream, ['x-request-id', 'x-ratelimit-limit', 'cache-control'], true);
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
