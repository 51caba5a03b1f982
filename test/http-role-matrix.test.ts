/**
 * Issue 12, "a role-by-route matrix of allowed and refused calls": every route of the running service, read from its
 * own OpenAPI document, called with no token and with a token of each role. A role route answers 401 without a token
 * and 403 to a role it does not list; public and device routes never ask for a bearer token.
 *
 * MATRIX below is the documented matrix (docs/service.md, "Roles"): a route the document has and MATRIX lacks, a
 * route MATRIX has and the document lacks, or a route whose roles changed, fails here until MATRIX and the docs say
 * the same.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLES, type Role } from '../adapters/http/auth/access-control.ts';
import { ACCESS_EXTENSION, DOCS_PREFIX } from '../adapters/http/server.ts';
import type { App, RouteAccess } from '../adapters/http/context.ts';
import { WILDCARD_NAMES } from '../adapters/http/openapi-transform.ts';
import { body } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

interface Sample {
  readonly params?: Readonly<Record<string, string>>;
  readonly query?: Readonly<Record<string, string>>;
  readonly body?: unknown;
}

interface Row extends Sample {
  readonly access: RouteAccess;
  /** The call ends the token it carries (sign-out): each caller gets a token of its role for this call alone. */
  readonly spendsToken?: true;
}

const READ: readonly Role[] = ['admin', 'operator', 'auditor'];
const NODE = { kind: 'node', id: 'meter-1' };

/**
 * Who may call each route, by `METHOD /openapi/path`, with a request that passes every check but the access one: an
 * allowed caller gets an answer about the request (200, 201, 404 for an entity that does not exist, 400 for a device
 * message no device signed), never 401 or 403. Device messages carry only their type and version: a valid one needs
 * a device's keys, and a 400 shows as well that no bearer token was asked for, since refusals come before parsing.
 */
const MATRIX: Readonly<Record<string, Row>> = {
  'GET /healthz': { access: 'public' },
  'GET /readyz': { access: 'public' },
  'GET /metrics': { access: 'public' },

  'POST /v1/tokens': { access: ['admin'], body: { subject: 'matrix-subject', role: 'auditor', ttl: '1h' } },
  'GET /v1/tokens': { access: ['admin'] },
  'DELETE /v1/tokens/{tokenId}': { access: ['admin'], params: { tokenId: `tok_${'A'.repeat(22)}` } },
  'DELETE /v1/session': { access: ['admin', 'operator', 'auditor', 'integrator'], spendsToken: true },

  'POST /v1/commands': { access: ['operator'], body: body.createSubscription('matrix-sub') },
  'POST /v1/pseudonyms/rotations': { access: ['operator'], body: { nodeId: 'matrix-node' } },
  'POST /v1/pseudonyms/resolutions': { access: ['auditor'], body: { pseudonym: `p-${'a'.repeat(26)}`, reason: 'matrix case' } },

  'GET /v1/entities': { access: READ, query: { kind: 'node' } },
  'GET /v1/entities/{kind}/{id}': { access: READ, params: NODE },
  'GET /v1/entities/{kind}/{id}/timeline': { access: READ, params: NODE },
  'GET /v1/entities/{kind}/{id}/state': { access: READ, params: NODE, query: { at: '2026-01-01T00:00:00Z' } },
  'GET /v1/entities/counts': { access: READ },
  'GET /v1/entities/{kind}/{id}/dependents': { access: READ, params: NODE },
  'GET /v1/compliance': { access: READ },
  'GET /v1/compliance/{query}': { access: READ, params: { query: 'revocations' } },
  'GET /v1/replay': { access: READ },
  'GET /v1/replay/{kind}/{id}': { access: READ, params: NODE },
  'GET /v1/projections': { access: READ },
  'GET /v1/transparency/checkpoint': { access: READ },
  'GET /v1/transparency/proofs/inclusion': { access: READ, query: { position: '0' } },
  'GET /v1/transparency/proofs/consistency': { access: READ, query: { from: '1' } },
  'GET /v1/transparency/evidence/{kind}/{id}': { access: READ, params: NODE },

  'GET /v1/events': { access: ['operator', 'auditor', 'integrator'] },

  'GET /v1/enrolment': { access: 'device' },
  'POST /v1/enrolment/hello': { access: 'device', body: { type: 'provisioning.hello', version: 1 } },
  'POST /v1/enrolment/auth': { access: 'device', body: { type: 'provisioning.auth', version: 1 } },
  'POST /v1/enrolment/receipt': { access: 'device', body: { type: 'provisioning.receipt', version: 2 } },
  'GET /v1/registrar': { access: 'device' },
  'POST /v1/registrar/associations/{associationId}/hello': {
    access: 'device',
    params: { associationId: 'sa-1' },
    body: { type: 'association.hello', version: 2 },
  },
  'POST /v1/registrar/associations/{associationId}/finish': {
    access: 'device',
    params: { associationId: 'sa-1' },
    body: { type: 'association.finish', version: 2 },
  },

  // Relying parties (issue 13, docs/pki.md): CA certificates, CRLs and OCSP, no token. The test service has no CA.
  'GET /pki/trust-bundle.pem': { access: 'public' },
  'GET /pki/{caId}/ca.crt': { access: 'public', params: { caId: 'default' } },
  'GET /pki/{caId}/chain.pem': { access: 'public', params: { caId: 'default' } },
  'GET /pki/{caId}/crl': { access: 'public', params: { caId: 'default' } },
  'GET /pki/{caId}/delta-crl': { access: 'public', params: { caId: 'default' } },
  'POST /pki/{caId}/ocsp': { access: 'public', params: { caId: 'default' } },
  // A wildcard (the request's base64 may hold `/`): Fastify names it `*`, the OpenAPI document `{request}`
  // (openapi-transform.ts); the sample is sent encoded, as a client filling the documented template sends it.
  'GET /pki/{caId}/ocsp/{request}': { access: 'public', params: { caId: 'default', request: 'MAA=' } },
};

/**
 * Routes the OpenAPI document leaves out on purpose: the document itself, the docs page (swagger-ui's files), the
 * console's files, and the PKI URLs that answer only a refusal.
 */
const UNDOCUMENTED: Readonly<Record<string, Row>> = {
  'GET /openapi.json': { access: 'public' },
  [`GET ${DOCS_PREFIX}`]: { access: 'public' },
  [`GET ${DOCS_PREFIX}/json`]: { access: 'public' },
  // The web console's page and its built assets (issue 14, docs/console.md): public files, the data behind the token.
  'GET /': { access: 'public' },
  'GET /assets/{file}': { access: 'public', params: { file: 'missing.js' } },
  // Public, answering only a refusal (review 306): an OCSP GET without its request segment is malformedRequest, and a
  // CRL's URL with a trailing slash a 404 no cache keeps; the document describes the OCSP GET by its request segment.
  'GET /pki/{caId}/ocsp': { access: 'public', params: { caId: 'default' } },
  'GET /pki/{caId}/crl/': { access: 'public', params: { caId: 'default' } },
  'GET /pki/{caId}/delta-crl/': { access: 'public', params: { caId: 'default' } },
};

type Caller = Role | 'no token';
const CALLERS: readonly Caller[] = ['no token', ...ROLES];

/** What a caller must get: 401, 403, or an answer past the access check (`allowed`). */
const expectedFor = (access: RouteAccess, caller: Caller): 401 | 403 | 'allowed' => {
  if (access === 'public' || access === 'device') return 'allowed';
  if (caller === 'no token') return 401;
  return access.includes(caller) ? 'allowed' : 403;
};

const sameAccess = (access: RouteAccess | undefined): string =>
  access === undefined ? 'undefined' : typeof access === 'string' ? access : [...access].sort().join(',');

/**
 * Every `METHOD /path` the server routes (Fastify's route tree), HEAD aside: Fastify adds it to every GET. A wildcard
 * is named as the OpenAPI document names it, `{*}` unless WILDCARD_NAMES names it (the tree prints `…/ocsp` then `*`,
 * its `/` left out).
 */
const routedRoutes = (app: App): string[] => {
  const routes: string[] = [];
  const prefixes: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^((?:│ {3}| {4})*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (match === null) continue;
    const depth = match[1]!.length / 4;
    const path = (prefixes[depth - 1] ?? '') + match[2]!;
    prefixes.length = depth;
    prefixes.push(path);
    for (const method of (match[3] ?? '').split(', ')) {
      const url = path.replace(/\/?\*$/, '/*');
      const wildcard = `/{${WILDCARD_NAMES[url] ?? '*'}}`;
      if (method !== '' && method !== 'HEAD') routes.push(`${method} ${url.replace(/:(\w+)/g, '{$1}').replace(/\/\*$/, wildcard)}`);
    }
  }
  return routes;
};

const CALL_TIMEOUT_MS = 10_000;

/** One call; only the status is read (an event stream is cut once its headers arrive). */
const statusOf = async (svc: TestService, route: string, sample: Sample, token: string | undefined): Promise<number> => {
  const [method, template] = route.split(' ') as [string, string];
  const path = template.replace(/\{(\w+|\*)\}/g, (_m, name: string) => encodeURIComponent(sample.params?.[name] ?? 'x'));
  const query = sample.query === undefined ? '' : `?${new URLSearchParams(sample.query as Record<string, string>).toString()}`;
  const headers: Record<string, string> = {};
  if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
  if (sample.body !== undefined) headers['content-type'] = 'application/json';
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), CALL_TIMEOUT_MS);
  try {
    const response = await fetch(`${svc.url}${path}${query}`, {
      method,
      headers,
      redirect: 'manual',
      signal: abort.signal,
      ...(sample.body !== undefined ? { body: JSON.stringify(sample.body) } : {}),
    });
    if (response.headers.get('content-type')?.startsWith('text/event-stream') === true) abort.abort();
    else await response.arrayBuffer();
    return response.status;
  } finally {
    clearTimeout(timer);
  }
};

/** The "Roles" section of docs/service.md as `route -> cells`, one cell per caller in CALLERS order. */
const documentedTable = (): Map<string, string[]> => {
  const text = readFileSync(new URL('../docs/service.md', import.meta.url), 'utf8');
  const section = /^## Roles\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(text)?.[1] ?? '';
  const rows = new Map<string, string[]>();
  for (const line of section.split('\n')) {
    const match = /^\| `([A-Z]+ [^`]+)` \|(.*)\|\s*$/.exec(line);
    if (match !== null) rows.set(match[1]!, match[2]!.split('|').map((c) => c.trim()));
  }
  return rows;
};

const cellFor = (access: RouteAccess, caller: Caller): string => {
  const expected = expectedFor(access, caller);
  return expected === 'allowed' ? 'yes' : String(expected);
};

describe('the role-by-route matrix (issue 12)', () => {
  let svc: TestService;
  let documented: Map<string, RouteAccess | undefined>;

  beforeAll(async () => {
    svc = await startTestService();
    const doc = (await (await fetch(`${svc.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, Record<string, unknown>>>;
    };
    documented = new Map(
      Object.entries(doc.paths).flatMap(([path, operations]) =>
        Object.entries(operations).map(([method, operation]) => [
          `${method.toUpperCase()} ${path}`,
          operation[ACCESS_EXTENSION] as RouteAccess | undefined,
        ]),
      ),
    );
  }, 60_000);

  afterAll(async () => {
    await svc?.close();
  });

  it('documents every route with its access, exactly as the matrix says', () => {
    expect([...documented.keys()].sort()).toEqual(Object.keys(MATRIX).sort());
    for (const [route, access] of documented) {
      expect(sameAccess(access), `${route} ${ACCESS_EXTENSION}`).toBe(sameAccess(MATRIX[route]!.access));
    }
  });

  it('routes nothing the document leaves out but the document itself and the docs page', () => {
    const routed = routedRoutes(svc.service.app);
    for (const route of [...documented.keys(), ...Object.keys(UNDOCUMENTED)]) expect(routed).toContain(route);
    // Under the docs prefix: swagger-ui's own files, public by the access hook whatever they are.
    const unlisted = routed.filter((r) => !documented.has(r) && !(r in UNDOCUMENTED) && !r.startsWith(`GET ${DOCS_PREFIX}/`));
    expect(unlisted).toEqual([]);
  });

  it('is the table of docs/service.md, section "Roles"', () => {
    const table = documentedTable();
    const expected = new Map(Object.entries(MATRIX).map(([route, row]) => [route, CALLERS.map((c) => cellFor(row.access, c))]));
    expect(Object.fromEntries(table)).toEqual(Object.fromEntries(expected));
  });

  describe.each(Object.entries({ ...MATRIX, ...UNDOCUMENTED }))('%s', (route, row) => {
    it.each(CALLERS)('called with %s', async (caller) => {
      const token =
        caller === 'no token'
          ? undefined
          : row.spendsToken === true
            ? (await svc.service.context.access.issue({ subject: `matrix-${caller}`, role: caller, ttlSeconds: 600, issuedBy: 'test' })).token
            : svc.tokens[caller];
      const status = await statusOf(svc, route, row, token);
      const expected = expectedFor(row.access, caller);
      if (expected === 'allowed') {
        expect([401, 403], `${route} as ${caller}: ${status}`).not.toContain(status);
        // An error of the server would hide whether access was granted.
        expect(status, `${route} as ${caller}`).toBeLessThan(500);
      } else {
        expect(status, `${route} as ${caller}`).toBe(expected);
      }
    });
  });
});
