import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import type { RouteModule } from '../adapters/http/context.ts';
import { jsonLimitIssue } from '../domain/json-limits.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * SER-001 "no cheap way to exhaust the service". Found in review: a body nested 480,000 levels (960,000 bytes, sent
 * without a token) was parsed whole, 180 to 300 ms of JSON.parse, before its 400 max_depth; a 90,000-member object
 * likewise. Four such senders within the rate limit slowed every other client tenfold. Now such a body is refused
 * with the same problem as before, and JSON.parse never sees it.
 */
const LIMITS = { maxDepth: 16, maxValues: 4_096 };

const echo: RouteModule = (app) => {
  app.post('/test/echo', { config: { access: 'public' }, schema: { body: z.unknown() } }, async (request) => ({ received: request.body }));
};

describe('a JSON body past the depth or value-count limit', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ routes: [echo], config: { limits: { jsonMaxDepth: LIMITS.maxDepth, jsonMaxValues: LIMITS.maxValues } } });
  });
  afterAll(async () => {
    await svc?.close();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** The answer to `body` sent to `path`, with every text JSON.parse was given while the service read it. */
  const sendCountingParses = async (path: string, body: string, headers: Record<string, string> = {}) => {
    const parse = vi.spyOn(JSON, 'parse');
    const response = await fetch(`${svc.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const text = await response.text();
    const parsed = parse.mock.calls.map(([input]) => input);
    parse.mockRestore();
    return { status: response.status, problem: JSON.parse(text) as { errors?: unknown[] }, parsed };
  };

  /** What the service answered such a body with before: the walk of the parsed value (domain/json-limits.ts). */
  const refusalBefore = (body: string) => {
    const issue = jsonLimitIssue(JSON.parse(body), LIMITS)!;
    return [{ ...issue, path: issue.path === '' ? 'body' : `body.${issue.path}` }];
  };

  const deep = '['.repeat(480_000) + ']'.repeat(480_000);
  const wide = `{${Array.from({ length: 90_000 }, (_, i) => `"k${i}":0`).join(',')}}`;

  it.each([
    ['nested 480,000 levels', deep],
    ['of 90,000 members', wide],
  ])('%s is refused with the same problem as before, and never parsed', async (_case, body) => {
    const expected = refusalBefore(body);
    expect(expected[0]).toMatchObject({ rule: _case.startsWith('nested') ? 'max_depth' : 'max_values' });
    const answer = await sendCountingParses('/test/echo', body);
    expect(answer.status).toBe(400);
    expect(answer.problem).toMatchObject({ type: 'https://credence.dev/problems/validation', errors: expected });
    expect(answer.parsed.filter((input) => input === body)).toEqual([]);
  });

  it('sent without a token to a device route is refused before it is parsed', async () => {
    const body = '['.repeat(30_000) + ']'.repeat(30_000);
    const answer = await sendCountingParses('/v1/enrolment/hello', body);
    expect(answer.status).toBe(400);
    expect(answer.problem).toMatchObject({ errors: refusalBefore(body) });
    expect(answer.parsed.filter((input) => input === body)).toEqual([]);
  });

  it('at the limits is parsed and kept', async () => {
    const deepest = `${'{"a":'.repeat(LIMITS.maxDepth - 1)}[1]${'}'.repeat(LIMITS.maxDepth - 1)}`;
    const widest = JSON.stringify(Array.from({ length: LIMITS.maxValues - 1 }, (_, i) => i));
    for (const body of [deepest, widest]) {
      const answer = await sendCountingParses('/test/echo', body);
      expect(answer.status).toBe(200);
      expect(answer.problem).toEqual({ received: JSON.parse(body) });
      expect(answer.parsed.filter((input) => input === body)).toHaveLength(1);
    }
  });
});
