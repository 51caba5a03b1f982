import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY, FakeClock } from '../adapters/driven/clock/index.ts';
import { createRootCa } from '../adapters/driven/pki/index.ts';
import { openDataFolderSecureEnvironment, systemRandom } from '../adapters/runtime/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 85, finding 4: the CRL routes' 410 ca_ended and 404 carried no Cache-Control to a request without a token
 * (the baseline's no-store is for requests with one), and RFC 9111 4.2.2 lets a cache keep a 404 or 410 for as long
 * as its heuristic says: a CA made later under that id, or a CA that was starting, would stay hidden behind it. Every
 * refusal of the PKI routes is `no-store` now, with a token or without, and the OpenAPI document says so.
 */
const SUB = 'sub-1';

interface Header {
  schema?: { enum?: string[] };
  description?: string;
}
interface Doc {
  paths: Record<string, Record<string, { responses: Record<string, { headers?: Record<string, Header> }> }>>;
}

describe('the refusals of the CRL and OCSP routes', () => {
  let svc: TestService;
  let dir: string;
  let doc: Doc;
  beforeAll(async () => {
    const clock = new FakeClock(new Date());
    dir = mkdtempSync(join(tmpdir(), 'credence-pki-refusals-'));
    const se = openDataFolderSecureEnvironment(dir, { now: () => clock.now() });
    try {
      const infra = ownerView(se, 'maf:infrastructure');
      await createRootCa({ dataDir: dir, se: infra, id: 'default', kind: 'p256', now: clock.now(), random: systemRandom });
      // Ended three days ago: retired at start, its CRL URLs 410.
      await createRootCa({ dataDir: dir, se: infra, id: SUB, kind: 'p256', now: new Date(clock.now().getTime() - 3 * DAY), random: systemRandom, validityDays: 2 });
    } finally {
      se.close();
    }
    svc = await startTestService({ dir, clock });
    doc = (await (await fetch(`${svc.url}/openapi.json`)).json()) as Doc;
  }, 60_000);
  afterAll(async () => {
    await svc?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The Cache-Control the document declares for `status` of `operation`, or for its class's catch-all. */
  const declared = (operation: string, status: number): Header | undefined => {
    const [method, path] = operation.split(' ') as [string, string];
    const responses = doc.paths[path]?.[method.toLowerCase()]?.responses ?? {};
    return (responses[String(status)] ?? responses[`${String(status)[0]}XX`])?.headers?.['cache-control'];
  };

  it.each([
    ['GET /pki/{caId}/crl', 'GET', `/pki/${SUB}/crl`, 410],
    ['GET /pki/{caId}/delta-crl', 'GET', `/pki/${SUB}/delta-crl`, 410],
    ['GET /pki/{caId}/crl', 'GET', '/pki/no-such-ca/crl', 404],
    ['GET /pki/{caId}/delta-crl', 'GET', '/pki/no-such-ca/delta-crl', 404],
    ['GET /pki/{caId}/crl', 'GET', '/pki/Not_A_CA/crl', 400],
    ['GET /pki/{caId}/ca.crt', 'GET', '/pki/no-such-ca/ca.crt', 404],
    ['GET /pki/{caId}/chain.pem', 'GET', '/pki/no-such-ca/chain.pem', 404],
    ['POST /pki/{caId}/ocsp', 'POST', '/pki/default/ocsp', 415],
  ] as const)('%s (%s %s) answers %i no-store, as declared, with a token, a bad one, or none', async (operation, method, url, status) => {
    for (const token of [svc.tokens.auditor, 'not-a-token', undefined]) {
      const answer = await fetch(`${svc.url}${url}`, {
        method,
        headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(method === 'POST' ? { 'content-type': 'text/plain' } : {}) },
        ...(method === 'POST' ? { body: 'not an OCSP request' } : {}),
      });
      expect(answer.status, `${url} ${token ?? 'no token'}`).toBe(status);
      expect(answer.headers.get('content-type'), url).toMatch(/^application\/problem\+json/);
      expect(answer.headers.get('cache-control'), `${url} ${token ?? 'no token'}`).toBe('no-store');
      await answer.arrayBuffer();
    }
    const header = declared(operation, status);
    expect(header?.schema?.enum, `${operation} ${status}`).toEqual(['no-store']);
    expect(header?.description, `${operation} ${status}`).toContain('`no-store`');
  });

  it('keeps the caching of what is served: a CRL is public, no-cache, as before', async () => {
    const crl = await fetch(`${svc.url}/pki/default/crl`);
    expect(crl.status).toBe(200);
    expect(crl.headers.get('cache-control')).toBe('public, no-cache');
    await crl.arrayBuffer();
    expect(declared('GET /pki/{caId}/crl', 200)?.schema?.enum ?? ['public, no-cache']).not.toContain('no-store');
  });
});
