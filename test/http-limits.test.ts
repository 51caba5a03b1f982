import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { RouteModule } from '../adapters/http/context.ts';
import { startTestService, type TestService } from './support/service.ts';

// SER-001: no cheap way to exhaust the service. Each limit is set tiny so a test can reach it.

const echo: RouteModule = (app) => {
  app.post('/test/echo', { config: { access: 'public' }, schema: { body: z.unknown() } }, async (request) => ({ received: request.body }));
  app.get('/test/whoami', { config: { access: ['operator', 'auditor'] } }, async (request) => ({ subject: request.principal!.subject }));
};

const post = (svc: TestService, body: string, contentType = 'application/json') =>
  fetch(`${svc.url}/test/echo`, { method: 'POST', headers: { 'content-type': contentType }, body });

const nested = (depth: number): string => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

describe('request bodies: size, JSON syntax, depth, content type', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ routes: [echo], config: { limits: { bodyLimitBytes: 1024, jsonMaxDepth: 4, jsonMaxValues: 50 } } });
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('accepts a body within every limit', async () => {
    const response = await post(svc, nested(4));
    expect(response.status).toBe(200);
  });

  it('refuses a body that is not JSON: 400 naming the body, without quoting it', async () => {
    const response = await post(svc, '{"pin": "424242", oops');
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    const text = await response.text();
    expect(text).not.toContain('424242');
    expect(JSON.parse(text)).toMatchObject({ type: 'https://credence.dev/problems/validation', status: 400, errors: [{ path: 'body', rule: 'json' }] });
  });

  it('refuses JSON nested deeper than the limit: 400 with the path where it broke', async () => {
    const response = await post(svc, nested(5));
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ errors: [{ path: 'body.a.a.a.a', rule: 'max_depth' }] });
  });

  it('refuses JSON with too many values: 400', async () => {
    const response = await post(svc, JSON.stringify(Array.from({ length: 60 }, (_, i) => i)));
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ errors: [{ rule: 'max_values' }] });
  });

  it('refuses a body larger than the limit: 413', async () => {
    const response = await post(svc, JSON.stringify({ a: 'x'.repeat(2048) }));
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ type: 'https://credence.dev/problems/payload_too_large', status: 413 });
  });

  it('refuses a content type other than JSON: 415', async () => {
    const response = await post(svc, 'hello', 'text/plain');
    expect(response.status).toBe(415);
    expect(await response.json()).toMatchObject({ type: 'https://credence.dev/problems/unsupported_media_type', status: 415 });
  });
});

describe('rate limits: per principal with a token, per source address without', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ routes: [echo], config: { limits: { rateLimitPerAddress: 3, rateLimitPerPrincipal: 5, rateLimitWindowMs: 60_000 } } });
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('answers 429 with Retry-After past the budget of an address; tokens have budgets of their own', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await post(svc, '{}')).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await post(svc, '{}');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await limited.json()).toMatchObject({ type: 'https://credence.dev/problems/rate_limited', status: 429 });

    // Same address, but authenticated: the operator's own budget of 5, then the auditor's untouched one.
    const asOperator: number[] = [];
    for (let i = 0; i < 6; i++) asOperator.push((await fetch(`${svc.url}/test/whoami`, { headers: { authorization: `Bearer ${svc.tokens.operator}` } })).status);
    expect(asOperator).toEqual([200, 200, 200, 200, 200, 429]);
    expect((await fetch(`${svc.url}/test/whoami`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } })).status).toBe(200);
  });

  it('keeps probes out of the rate limit and counts refusals in the metrics', async () => {
    // This address spent its API budget above: the probes and the metrics have budgets of their own.
    for (let i = 0; i < 5; i++) expect((await fetch(`${svc.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${svc.url}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    expect(metrics).toMatch(/credence_http_rate_limited_total\{route="\/test\/echo"\} [1-9]/);
    expect(metrics).toMatch(/credence_http_refused_total\{status="429",route="\/test\/echo"\} [1-9]/);
    // Found in review: /metrics had no rate limit, and a flood of it made the service shed the API's requests.
    const more: number[] = [];
    for (let i = 0; i < 3; i++) more.push((await fetch(`${svc.url}/metrics`)).status);
    expect(more).toEqual([200, 200, 429]);
    expect((await fetch(`${svc.url}/test/whoami`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } })).status).toBe(200);
  });
});

describe('load shedding: 503 with Retry-After when memory runs over its bound', () => {
  let svc: TestService;
  beforeAll(async () => {
    // Any heap is over one byte: from the first sample on, the service counts as overloaded.
    svc = await startTestService({ routes: [echo], config: { limits: { maxHeapUsedBytes: 1, pressureSampleIntervalMs: 10, retryAfterSeconds: 7 } } });
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('sheds API requests with a 503 problem and Retry-After, still answers the probes', async () => {
    let response: Response | undefined;
    for (let i = 0; i < 50; i++) {
      response = await post(svc, '{}');
      if (response.status === 503) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(response!.status).toBe(503);
    expect(response!.headers.get('retry-after')).toBe('7');
    expect(await response!.json()).toMatchObject({ type: 'https://credence.dev/problems/overloaded', status: 503 });
    expect((await fetch(`${svc.url}/healthz`)).status).toBe(200);
  });
});
