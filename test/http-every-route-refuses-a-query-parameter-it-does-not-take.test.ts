/**
 * Review 219, finding 1: a query parameter a route does not take was refused only on the routes that declared a query
 * schema (`/timeline?at=x`, `/v1/entities?bogus=1`: 400, rule `unrecognized_key`); the others read past it, so
 * `GET /v1/entities/subscription/s-a?at=2026-01-02T00:00:00Z` answered 200 with the current state, and
 * `/v1/transparency/evidence/…?treeSize=1` the latest bundle. Every route of the document now takes no parameter it does
 * not declare, by a default applied where routes are registered: walked from the OpenAPI document, so a new route is
 * covered. The OCSP GET answers an OCSP client as it answers anything else it cannot read: `malformedRequest`.
 */
import { describe, expect, it } from 'vitest';
import { ocspErrorResponseDer } from '../domain/x509/revocation/index.ts';
import { body } from './http-conformance.fixtures.ts';
import { useTestService, type TestService } from './support/service.ts';

type Role = keyof TestService['tokens'];
interface Operation {
  'x-credence-access'?: unknown;
}
type Doc = { paths: Record<string, Record<string, Operation>> };

const svc = useTestService();

/** A value for each path parameter of the document: the refusal comes before anything looks the value up. */
const FILLED: Readonly<Record<string, string>> = { kind: 'subscription', id: 's-a', caId: 'default', query: 'revocations', request: 'MAA=', tokenId: 'x', associationId: 'a-1' };

const filled = (template: string): string => template.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(FILLED[name] ?? 'x'));

/** A token of a role the operation allows, or none for a public or device operation. */
const headersFor = (op: Operation): Record<string, string> => {
  const access = op['x-credence-access'];
  return Array.isArray(access) ? { authorization: `Bearer ${svc.tokens[access[0] as Role]}` } : {};
};

const getRoutes = async (): Promise<[string, Operation][]> => {
  const doc = (await (await fetch(`${svc.url}/openapi.json`)).json()) as Doc;
  return Object.entries(doc.paths).flatMap(([path, item]) => (item['get'] !== undefined ? [[path, item['get']] as [string, Operation]] : []));
};

const UNKNOWN = { path: 'query.bogus', rule: 'unrecognized_key', message: 'not allowed here' };
const PROBES = ['/healthz', '/readyz', '/metrics'];

describe('a query parameter a route does not take', () => {
  it('is refused 400 `unrecognized_key`, naming it, by every GET route of the OpenAPI document, and by its HEAD', async () => {
    const routes = await getRoutes();
    expect(routes.length).toBeGreaterThan(20);
    const answered: string[] = [];
    for (const [template, op] of routes) {
      if (template.includes('/ocsp/') || PROBES.includes(template)) continue;
      for (const method of ['GET', 'HEAD'] as const) {
        const response = await fetch(`${svc.url}${filled(template)}?bogus=1`, { method, headers: headersFor(op) });
        const text = await response.text();
        // A route without a HEAD (the event stream's) answers no HEAD, with a query or without.
        if (method === 'HEAD' && response.status === 404) {
          expect((await fetch(`${svc.url}${filled(template)}`, { method, headers: headersFor(op) })).status, template).toBe(404);
          continue;
        }
        answered.push(`${method} ${template} ${response.status}`);
        expect(response.status, `${method} ${template}`).toBe(400);
        expect(response.headers.get('content-type'), `${method} ${template}`).toMatch(/^application\/problem\+json/);
        if (method === 'HEAD') continue;
        const problem = JSON.parse(text) as { type: string; errors: unknown[] };
        expect(problem.type, template).toBe('https://credence.dev/problems/validation');
        expect(problem.errors, template).toEqual(expect.arrayContaining([UNKNOWN]));
      }
    }
    expect(answered.filter((line) => !line.endsWith(' 400'))).toEqual([]);
  });

  it('is answered `malformedRequest` by the OCSP GET and POST, an OCSPResponse as every answer an OCSP client gets', async () => {
    const routes = await getRoutes();
    const ocsp = routes.filter(([template]) => template.includes('/ocsp/'));
    expect(ocsp.length).toBe(1);
    for (const [template] of ocsp) {
      const response = await fetch(`${svc.url}${filled(template)}?nonce=1`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/ocsp-response');
      expect(new Uint8Array(await response.arrayBuffer())).toEqual(new Uint8Array(ocspErrorResponseDer('malformedRequest')));
    }
    // And the OCSP POST, sent as an OCSP client sends it.
    const posted = await fetch(`${svc.url}/pki/default/ocsp?nonce=1`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: new Uint8Array([0x30, 0x00]) });
    expect(posted.headers.get('content-type')).toBe('application/ocsp-response');
    expect(new Uint8Array(await posted.arrayBuffer())).toEqual(new Uint8Array(ocspErrorResponseDer('malformedRequest')));
  });

  it('`at` on one entity is refused, not read past to the current state; the HEAD of the route still answers', async () => {
    const created = await fetch(`${svc.url}/v1/commands`, {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify(body.createSubscription('s-a')),
    });
    expect(created.status).toBe(201);
    const auditor = { authorization: `Bearer ${svc.tokens.auditor}` };
    const now = await fetch(`${svc.url}/v1/entities/subscription/s-a`, { headers: auditor });
    expect(now.status).toBe(200);
    const head = await fetch(`${svc.url}/v1/entities/subscription/s-a`, { method: 'HEAD', headers: auditor });
    expect(head.status).toBe(200);
    const at = await fetch(`${svc.url}/v1/entities/subscription/s-a?at=2026-01-02T00:00:00Z`, { headers: auditor });
    expect(at.status).toBe(400);
    const problem = (await at.json()) as { errors: unknown[] };
    expect(problem.errors).toEqual([{ path: 'query.at', rule: 'unrecognized_key', message: 'not allowed here' }]);
    // The route that takes `at` still answers it.
    const state = await fetch(`${svc.url}/v1/entities/subscription/s-a/state?at=${encodeURIComponent(new Date().toISOString())}`, { headers: auditor });
    expect(state.status).toBe(200);
  });
});

describe('a query parameter on a probe or the metrics (review 222: a monitor adds its own)', () => {
  const probed = useTestService({ config: { probePort: 0 } });

  it.each(PROBES)('is read past by %s, on the probe port and the API port, as before: a cache-buster is no refusal', async (path) => {
    for (const base of [probed.service.probeUrl!, probed.url]) {
      const plain = await fetch(`${base}${path}`);
      await plain.arrayBuffer();
      const queried = await fetch(`${base}${path}?_=1712345&bogus=1`);
      await queried.arrayBuffer();
      expect(queried.status, `${base}${path}`).toBe(plain.status);
      expect(queried.status).not.toBe(400);
    }
  });
});
