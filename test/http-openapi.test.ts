import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';

interface Operation {
  security?: unknown[];
  description?: string;
  responses?: Record<string, unknown>;
}

describe('the OpenAPI 3.1 document (GET /openapi.json)', () => {
  let svc: TestService;
  let doc: { openapi: string; paths: Record<string, Record<string, Operation>>; components?: { schemas?: Record<string, unknown> } };
  beforeAll(async () => {
    svc = await startTestService();
    doc = (await (await fetch(`${svc.url}/openapi.json`)).json()) as typeof doc;
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('passes the OpenAPI 3.1 schema validator', async () => {
    const result = await new Validator().validate(doc as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toMatch(/^3\.1\./);
  });

  it('documents bearer security and the allowed roles on role routes, none on probes', () => {
    const issue = doc.paths['/v1/tokens']!['post']!;
    expect(issue.security).toEqual([{ bearerAuth: [] }]);
    expect(issue.description).toContain('Roles: admin');
    expect(doc.paths['/healthz']!['get']!.security).toBeUndefined();
  });

  it('documents problem+json refusals with a shared Problem schema', () => {
    const responses = doc.paths['/v1/tokens']!['post']!.responses!;
    expect(Object.keys(responses)).toEqual(expect.arrayContaining(['201', '4XX', '5XX']));
    expect(JSON.stringify(responses['4XX'])).toContain('application/problem+json');
    expect(doc.components?.schemas?.['Problem']).toBeDefined();
  });

  it('leaves the docs assets and the document itself out', () => {
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/docs') || p === '/openapi.json')).toEqual([]);
  });
});
