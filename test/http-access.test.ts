import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { RouteModule } from '../adapters/http/context.ts';
import { startTestService, type TestService } from './support/service.ts';

// A route only operators may call, to prove the access hook on a route of known roles.
const operatorOnly: RouteModule = (app) => {
  app.post(
    '/test/operator-only',
    { config: { access: ['operator'] }, schema: { body: z.strictObject({ n: z.number().int() }), response: { 200: z.object({ subject: z.string(), n: z.number() }) } } },
    async (request) => ({ subject: request.principal!.subject, n: request.body.n }),
  );
};

const PROBLEM = 'application/problem+json';

// A route that forgot to say who may call it.
const unguarded: RouteModule = (app) => {
  app.get('/test/unguarded', async () => ({ open: true }));
};

describe('a route without config.access', () => {
  it('stops the service from starting, naming the route', async () => {
    await expect(startTestService({ routes: [unguarded] })).rejects.toThrow(/GET \/test\/unguarded has no config.access/);
  });
  // Only the docs page's own routes (`/docs`, `/docs/…`) are public by default; `/docsX` merely starts alike.
  it.each(['/docsX', '/docs-admin'])('stops the service from starting for %s too: not under the docs page', async (url) => {
    const lookalike: RouteModule = (app) => {
      app.get(url, async () => ({ open: true }));
    };
    await expect(startTestService({ routes: [lookalike] })).rejects.toThrow(`GET ${url} has no config.access`);
  });
});

describe('the service: probes, OpenAPI, bearer tokens and roles', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ routes: [operatorOnly] });
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('answers /healthz without a token, with a request id header', async () => {
    const response = await fetch(`${svc.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
    expect(response.headers.get('x-request-id')).toMatch(/\S+/);
  });

  it('echoes a well-formed caller request id', async () => {
    const response = await fetch(`${svc.url}/healthz`, { headers: { 'x-request-id': 'abc-123' } });
    expect(response.headers.get('x-request-id')).toBe('abc-123');
  });

  it('serves an OpenAPI 3.1 document and a docs page', async () => {
    const doc = (await (await fetch(`${svc.url}/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/healthz', '/readyz', '/test/operator-only']));
    const docs = await fetch(`${svc.url}/docs`);
    expect(docs.status).toBe(200);
  });

  it('refuses a role route without a token: 401 problem+json with WWW-Authenticate', async () => {
    const response = await fetch(`${svc.url}/test/operator-only`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"n":1}' });
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toContain(PROBLEM);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const problem = (await response.json()) as Record<string, unknown>;
    expect(problem).toMatchObject({ type: 'https://credence.dev/problems/unauthenticated', status: 401, title: expect.any(String), detail: expect.any(String) });
    expect(problem['instance']).toBe('/test/operator-only');
  });

  it('refuses a valid token of another role: 403', async () => {
    const response = await fetch(`${svc.url}/test/operator-only`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${svc.tokens.auditor}` },
      body: '{"n":1}',
    });
    expect(response.status).toBe(403);
    expect(response.headers.get('content-type')).toContain(PROBLEM);
    expect(await response.json()).toMatchObject({ type: 'https://credence.dev/problems/forbidden', status: 403, role: 'auditor', allowed: ['operator'] });
  });

  it('serves the allowed role, the principal from the token', async () => {
    const response = await fetch(`${svc.url}/test/operator-only`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${svc.tokens.operator}` },
      body: '{"n":7}',
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ subject: 'test-operator', n: 7 });
  });

  it('names every bad field of a body: 400 with paths', async () => {
    const response = await fetch(`${svc.url}/test/operator-only`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${svc.tokens.operator}` },
      body: '{"n":"x","actor":{"id":"root"}}',
    });
    expect(response.status).toBe(400);
    const problem = (await response.json()) as { errors: { path: string; rule: string }[] };
    expect(problem.errors.map((e) => e.path).sort()).toEqual(['body.actor', 'body.n']);
  });

  it('answers an unknown route with a 404 problem', async () => {
    const response = await fetch(`${svc.url}/v1/nothing-here`);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toContain(PROBLEM);
    expect(await response.json()).toMatchObject({ type: 'https://credence.dev/problems/route_not_found', status: 404 });
  });
});
