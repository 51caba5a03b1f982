import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { clientErrorAnswer } from '../adapters/http/problems.ts';
import { MAX_PATH_PARAM_CHARS } from '../adapters/http/path-params.ts';
import { useTestService } from './support/service.ts';

/*
 * Review 34: only the console's own page carried nosniff, a referrer policy and a framing refusal; the API's JSON, CSV
 * and problem answers, /metrics and /docs carried none, and an answer read with a bearer token said nothing of
 * caching. Every answer now carries them unless its route set its own (OWASP REST Security Cheat Sheet), the event
 * stream's too, whose head the route writes itself (review 50). Review 50's follow-up: the probe port (no onSend hook)
 * and the HTTP parser's refusals (written on the raw socket, before there is a request) still carried none.
 */
const svc = useTestService({ config: { probePort: 0 } });

const headersOf = async (path: string, token: boolean, accept = 'application/json', base = svc.url) => {
  const headers: Record<string, string> = { accept, ...(token ? { authorization: `Bearer ${svc.tokens.operator}` } : {}) };
  const answer = await fetch(`${base}${path}`, { headers });
  await answer.body?.cancel();
  return answer.headers;
};

/** Writes `raw` on a fresh connection to `base`'s port and reads until the server closes it; the head's headers by name. */
const rawHeadersOf = (raw: string, base = svc.url): Promise<{ statusLine: string; headers: Map<string, string> }> =>
  new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(base).port), '127.0.0.1', () => socket.write(raw));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('close', () => resolve(headLinesOf(answer)));
    socket.on('error', reject);
  });

const headLinesOf = (answer: string): { statusLine: string; headers: Map<string, string> } => {
  const [statusLine = '', ...lines] = answer.split('\r\n\r\n')[0]!.split('\r\n');
  const headers = new Map(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()] as const));
  return { statusLine, headers };
};

const expectBaseline = (get: (name: string) => string | null | undefined): void => {
  expect(get('x-content-type-options')).toBe('nosniff');
  expect(get('x-frame-options')).toBe('DENY');
  expect(get('referrer-policy')).toBe('no-referrer');
};

describe('every answer of the service', () => {
  it.each([
    ['an entity read', '/v1/entities/counts', true, 'application/json'],
    ['a CSV answer', '/v1/compliance/revocations', true, 'text/csv'],
    ['a refusal of no route', '/v1/nosuch', false, 'application/json'],
    ['a 401', '/v1/entities/counts', false, 'application/json'],
    ['the OpenAPI document', '/openapi.json', false, 'application/json'],
    // Review 50: the stream's head is written past the onSend hook (the socket is taken over), and carried none.
    ['the event stream', '/v1/events?from=end', true, 'text/event-stream'],
  ] as const)('is never sniffed, framed or given a referrer: %s', async (_, path, token, accept) => {
    const headers = await headersOf(path, token, accept);
    expectBaseline((name) => headers.get(name));
  });

  // Review 50's follow-up: the probe listener had no onSend hook, so none of its answers carried the baseline.
  it.each([
    ['/healthz', 'application/json'],
    ['/readyz', 'application/json'],
    ['/metrics', 'text/plain'],
    ['/v1/nosuch', 'application/json'],
  ] as const)('is never sniffed, framed or given a referrer on the probe port: %s', async (path, accept) => {
    const headers = await headersOf(path, false, accept, svc.service.probeUrl!);
    expectBaseline((name) => headers.get(name));
  });

  // The router's refusals (frameworkErrors) are sent before any route or hook, so the onSend hook never saw them.
  it.each([
    ['a malformed percent-escape', '/v1/entities/node/%E0%A4%A', 400],
    ['an overlong path parameter', `/v1/entities/node/${'y'.repeat(MAX_PATH_PARAM_CHARS + 1)}`, 414],
  ] as const)('is never sniffed, framed or given a referrer when the router refuses the path: %s', async (_, path, status) => {
    const answer = await fetch(`${svc.url}${path}`, { headers: { authorization: `Bearer ${svc.tokens.operator}` } });
    await answer.body?.cancel();
    expect(answer.status).toBe(status);
    expectBaseline((name) => answer.headers.get(name));
    expect(answer.headers.get('cache-control')).toBe('no-store');
  });

  it('is never sniffed, framed or given a referrer when the router refuses the path on the probe port', async () => {
    const answer = await fetch(`${svc.service.probeUrl!}/v1/entities/node/%E0%A4%A`);
    await answer.body?.cancel();
    expect(answer.status).toBe(400);
    expectBaseline((name) => answer.headers.get(name));
  });

  // The OCSP answer to a path the router refused is sent past every hook too; it keeps its own caching.
  it('is never sniffed, framed or given a referrer when the router refuses an OCSP request', async () => {
    const answer = await fetch(`${svc.url}/pki/default/ocsp/%E0%A4%A`);
    await answer.body?.cancel();
    expect(answer.headers.get('content-type')).toBe('application/ocsp-response');
    expectBaseline((name) => answer.headers.get(name));
    expect(answer.headers.get('cache-control')).toBe('no-store');
  });

  // Review 50's follow-up: written on the raw socket before there is any request, past every hook.
  it('is never sniffed, framed or given a referrer when the HTTP parser refuses the request', async () => {
    const { statusLine, headers } = await rawHeadersOf('GET /healthz HTTP/1.1\r\nHost: x\r\nbad header line\r\n\r\n');
    expect(statusLine).toMatch(/^HTTP\/1\.1 400 /);
    expectBaseline((name) => headers.get(name));
  });

  // The probe port had no clientErrorHandler: its parser refusals were Fastify's plain JSON, with no baseline.
  it.each([
    ['a malformed request', 'GET /healthz HTTP/1.1\r\nHost: x\r\nbad header line\r\n\r\n', 400],
    ['headers too large', `GET /healthz HTTP/1.1\r\nHost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
  ] as const)('is problem+json, never sniffed, framed or given a referrer when the probe port parser refuses: %s', async (_, raw, status) => {
    const { statusLine, headers } = await rawHeadersOf(raw, svc.service.probeUrl!);
    expect(statusLine).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(headers.get('content-type')).toBe('application/problem+json');
    expectBaseline((name) => headers.get(name));
  });

  it.each([
    ['a malformed request', 'HPE_INVALID_HEADER_TOKEN', 400],
    ['headers too large', 'HPE_HEADER_OVERFLOW', 431],
    ['a request not received in time', 'ERR_HTTP_REQUEST_TIMEOUT', 408],
  ] as const)('carries the baseline in every parser refusal: %s', (_, code, status) => {
    const { statusLine, headers } = headLinesOf(clientErrorAnswer(Object.assign(new Error(code), { code }))!);
    expect(statusLine).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expectBaseline((name) => headers.get(name));
  });

  it('is not kept by a cache when read with a bearer token; an answer without one is left to its route', async () => {
    expect((await headersOf('/v1/entities/counts', true)).get('cache-control')).toBe('no-store');
    expect((await headersOf('/v1/entities/counts', false)).get('cache-control')).toBeNull();
    // The event stream keeps no-transform (a proxy must not buffer or compress it), and is kept by no cache either.
    expect((await headersOf('/v1/events?from=end', true, 'text/event-stream')).get('cache-control')).toBe('no-store, no-transform');
  });
});
