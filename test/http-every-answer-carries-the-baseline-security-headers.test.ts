import { describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';

/*
 * Review 34: only the console's own page carried nosniff, a referrer policy and a framing refusal; the API's JSON, CSV
 * and problem answers, /metrics and /docs carried none, and an answer read with a bearer token said nothing of
 * caching. Every answer now carries them unless its route set its own (OWASP REST Security Cheat Sheet), the event
 * stream's too, whose head the route writes itself (review 50).
 */
const svc = useTestService();

const headersOf = async (path: string, token: boolean, accept = 'application/json') => {
  const headers: Record<string, string> = { accept, ...(token ? { authorization: `Bearer ${svc.tokens.operator}` } : {}) };
  const answer = await fetch(`${svc.url}${path}`, { headers });
  await answer.body?.cancel();
  return answer.headers;
};

describe('every answer of the service', () => {
  it.each([
    ['an entity read', '/v1/entities/counts', true, 'application/json'],
    ['a CSV answer', '/v1/compliance/revocations', true, 'text/csv'],
    ['a refusal of no route', '/v1/nosuch', false, 'application/json'],
    ['a 401', '/v1/entities/counts', false, 'application/json'],
    ['the metrics', '/metrics', false, 'text/plain'],
    ['the OpenAPI document', '/openapi.json', false, 'application/json'],
    // Review 50: the stream's head is written past the onSend hook (the socket is taken over), and carried none.
    ['the event stream', '/v1/events?from=end', true, 'text/event-stream'],
  ] as const)('is never sniffed, framed or given a referrer: %s', async (_, path, token, accept) => {
    const headers = await headersOf(path, token, accept);
    expect(headers.get('x-content-type-options')).toBe('nosniff');
    expect(headers.get('x-frame-options')).toBe('DENY');
    expect(headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('is not kept by a cache when read with a bearer token; an answer without one is left to its route', async () => {
    expect((await headersOf('/v1/entities/counts', true)).get('cache-control')).toBe('no-store');
    expect((await headersOf('/v1/entities/counts', false)).get('cache-control')).toBeNull();
    // The event stream keeps no-transform (a proxy must not buffer or compress it), and is kept by no cache either.
    expect((await headersOf('/v1/events?from=end', true, 'text/event-stream')).get('cache-control')).toBe('no-store, no-transform');
  });
});
