/**
 * The OpenAPI document's last known gaps on headers: X-Request-ID, which every route takes (server.ts), was no
 * parameter of any operation; `Cache-Control: no-store`, sent to every request with an Authorization header
 * (baseline-headers.ts), was declared on a role route's successes only, not on a public route's answers nor on a 401
 * for a refused token; and the OCSP GET declared the `public, no-cache` of a cacheable answer only, while an error status
 * (an HTTP 200 too) and an answer with a nonce are `no-store`, as every answer of the OCSP POST is.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ocspRequest } from './support/ocsp-client.ts';
import { issueCertifiedCredential, pkiOf, startPkiService } from './support/pki-test-ca.ts';
import type { TestService } from './support/service.ts';

interface Header {
  description?: string;
  schema?: { type?: string; enum?: string[] };
}
interface Operation {
  parameters?: ({ $ref: string } | { in: string; name: string })[];
  responses: Record<string, { headers?: Record<string, Header> }>;
}
interface Doc {
  paths: Record<string, Record<string, Operation>>;
  components: { parameters?: Record<string, { name: string; in: string; required?: boolean; schema: Record<string, unknown> }> };
}

describe('the OpenAPI document declares the X-Request-ID the service takes and the Cache-Control it sends', () => {
  let svc: TestService;
  let doc: Doc;
  beforeAll(async () => {
    svc = await startPkiService('p256');
    doc = (await (await fetch(`${svc.url}/openapi.json`)).json()) as Doc;
  }, 60_000);
  afterAll(async () => {
    await svc?.close();
  });

  const operations = (): [string, Operation][] =>
    Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]): [string, Operation] => [`${method.toUpperCase()} ${path}`, op]));

  /** The Cache-Control `operation` declares for `status`, or for its class's catch-all (`4XX`). */
  const cacheControlOf = (operation: string, status: number): Header | undefined => {
    const [method, path] = operation.split(' ') as [string, string];
    const responses = doc.paths[path]?.[method.toLowerCase()]?.responses ?? {};
    return (responses[String(status)] ?? responses[`${String(status)[0]}XX`])?.headers?.['cache-control'];
  };

  /** `answer`'s Cache-Control is `value`, one its status's declaration allows and names. */
  const expectCacheControl = (operation: string, answer: Response, value: string | null): void => {
    expect(answer.headers.get('cache-control'), `${operation} ${answer.status}`).toBe(value);
    const declared = cacheControlOf(operation, answer.status);
    expect(declared, `${operation} ${answer.status} declares cache-control`).toBeDefined();
    if (value !== null) {
      expect(declared!.schema?.enum, `${operation} ${answer.status}`).toContain(value);
      expect(declared!.description, `${operation} ${answer.status}`).toContain(`\`${value}\``);
    }
  };

  it('documents X-Request-ID on every operation, as one shared header parameter of the shape the service takes', async () => {
    const parameter = doc.components.parameters?.['RequestId'];
    expect(parameter).toMatchObject({ name: 'x-request-id', in: 'header', required: false, schema: { type: 'string', maxLength: 64 } });
    const without = operations().filter(([, op]) => !(op.parameters ?? []).some((p) => '$ref' in p && p.$ref === '#/components/parameters/RequestId'));
    expect(without.map(([name]) => name)).toEqual([]);
    // What the document allows is what the service takes as the request's id; anything else it replaces.
    const allows = new Ajv2020({ strict: false }).compile(parameter!.schema);
    for (const id of ['abc-123', 'A-Z._:9', 'a'.repeat(64), 'a'.repeat(65), 'a b', 'a/b', 'a;b', '']) {
      const answer = await fetch(`${svc.url}/healthz`, { headers: { 'x-request-id': id } });
      await answer.arrayBuffer();
      expect(answer.headers.get('x-request-id') === id, JSON.stringify(id)).toBe(allows(id));
    }
  });

  it('declares Cache-Control on every answer of every operation', () => {
    const without = operations().flatMap(([name, op]) =>
      Object.entries(op.responses).filter(([, response]) => response.headers?.['cache-control'] === undefined).map(([status]) => `${name} ${status}`),
    );
    expect(without).toEqual([]);
  });

  it.each([
    ['GET /healthz', '/healthz'],
    ['GET /readyz', '/readyz'],
    ['GET /v1/enrolment', '/v1/enrolment'],
    // A refusal of the PKI routes is no-store with a token or without: test/pki-refusals-of-the-crl-and-ocsp-routes-are-kept-by-no-cache.test.ts.
    ['GET /v1/entities', '/v1/entities'],
  ] as const)('%s (%s) answers no-store, as declared, to a request with a token, whatever its token, and nothing without', async (operation, url) => {
    for (const [token, value] of [[svc.tokens.auditor, 'no-store'], ['not-a-token', 'no-store'], [undefined, null]] as const) {
      const answer = await fetch(`${svc.url}${url}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
      await answer.arrayBuffer();
      expectCacheControl(operation, answer, value);
    }
  });

  // Review 306: the CA certificates change at `ca renew`, so a cache keeps them only to revalidate them (public,
  // no-cache and an ETag, as the CRLs): public files, the same whoever asks, so a token changes nothing.
  it.each([
    ['GET /pki/trust-bundle.pem', '/pki/trust-bundle.pem'],
    ['GET /pki/{caId}/ca.crt', '/pki/default/ca.crt'],
    ['GET /pki/{caId}/chain.pem', '/pki/default/chain.pem'],
  ] as const)('%s (%s) answers public, no-cache, as declared, with a token or without', async (operation, url) => {
    for (const [token, value] of [[svc.tokens.auditor, 'public, no-cache'], ['not-a-token', 'public, no-cache'], [undefined, 'public, no-cache']] as const) {
      const answer = await fetch(`${svc.url}${url}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
      await answer.arrayBuffer();
      expectCacheControl(operation, answer, value);
    }
  });

  it('declares the OCSP GET answer public, no-cache when a cache may keep it, no-store with an error status, and every POST answer no-store', async () => {
    const leaf = await issueCertifiedCredential(svc, 'cred-openapi-ocsp-caching');
    const der = Buffer.from(await ocspRequest(leaf, pkiOf(svc).cas[0]!)).toString('base64');
    const get = 'GET /pki/{caId}/ocsp/{request}';
    const good = await fetch(`${svc.url}/pki/default/ocsp/${encodeURIComponent(der)}`);
    await good.arrayBuffer();
    expectCacheControl(get, good, 'public, no-cache');
    expect(good.headers.get('etag')).not.toBeNull();
    // Error statuses, each an HTTP 200: malformedRequest, unauthorized (no such CA), and the router's refusal.
    for (const path of ['/pki/default/ocsp/not-base64!', `/pki/no-such-ca/ocsp/${encodeURIComponent(der)}`, '/pki/default/ocsp/%zz']) {
      const refused = await fetch(`${svc.url}${path}`);
      await refused.arrayBuffer();
      expect(refused.status, path).toBe(200);
      expectCacheControl(get, refused, 'no-store');
      expect(refused.headers.get('etag'), path).toBeNull();
    }
    for (const body of [Buffer.from(der, 'base64'), Buffer.from('not an OCSP request')]) {
      const posted = await fetch(`${svc.url}/pki/default/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body });
      await posted.arrayBuffer();
      expectCacheControl('POST /pki/{caId}/ocsp', posted, 'no-store');
    }
  });
});
