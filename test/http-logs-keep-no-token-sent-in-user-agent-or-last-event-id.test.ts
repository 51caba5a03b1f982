import { describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';

/*
 * Review 199 (SER-001, no secret in logs): `user-agent` and `last-event-id` were logged cut at 200 characters without
 * the scan for tokens the path and the query get: a token sent in User-Agent had its first 200 characters logged. A
 * value holding a token (a JWT, written plainly or escaped, or a well-known secret token's prefix) is logged
 * `[redacted]`; any other is kept as before.
 */
const svc = useTestService({ config: { logLevel: 'info' } });

/** A JWT's shape: three base64url parts, the first `eyJ…`; its signature part long enough to be past 200 characters. */
const JWT = `eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ0ZXN0In0.${'s'.repeat(300)}`;

/** The headers logged for the request with this id. */
const loggedHeadersOf = (requestId: string): Record<string, string> => {
  for (const line of svc.logs()) {
    const entry = JSON.parse(line) as { reqId?: string; req?: { headers?: Record<string, string> } };
    if (entry.reqId === requestId && entry.req?.headers !== undefined) return entry.req.headers;
  }
  throw new Error(`no request line for ${requestId}`);
};

const send = async (requestId: string, headers: Record<string, string>): Promise<Record<string, string>> => {
  // Not /healthz: a probe answered writes no line (review 381).
  await (await fetch(`${svc.url}/openapi.json`, { headers: { 'x-request-id': requestId, ...headers } })).arrayBuffer();
  return loggedHeadersOf(requestId);
};

describe('the user-agent and last-event-id a log line keeps', () => {
  it.each([
    ['a JWT after text', `client/1.0 ${'x'.repeat(150)} ${JWT}`],
    ['a JWT whose dots are escaped', `client/1.0 ${JWT.replaceAll('.', '%2E')}`],
    ['a bearer token', `Bearer ${JWT}`],
    ['a GitHub token', 'client/1.0 ghp_0123456789abcdefghijABCDEFGHIJ012345'],
  ])('are [redacted] when they hold %s', async (name, value) => {
    const id = `ua-${name.replaceAll(' ', '-')}`;
    const headers = await send(id, { 'user-agent': value, 'last-event-id': value });
    expect(headers['user-agent']).toBe('[redacted]');
    expect(headers['last-event-id']).toBe('[redacted]');
    expect(svc.logs().join('\n')).not.toContain(value.slice(-40));
  });

  it('are kept, cut at 200 characters, when they hold none', async () => {
    const headers = await send('ua-plain', { 'user-agent': `credence-cli/1.0 (linux) ${'y'.repeat(300)}`, 'last-event-id': '42' });
    expect(headers['user-agent']).toBe(`credence-cli/1.0 (linux) ${'y'.repeat(300)}`.slice(0, 200));
    expect(headers['last-event-id']).toBe('42');
  });
});

/*
 * Review 320 (2): an X-Request-ID of the id's shape was kept as the request's id whatever it held, so a secret token
 * sent there was written on every log line of the request, echoed in the x-request-id header and in a problem's
 * `requestId`. One that begins like a well-known secret token (as user-agent and the path are judged) is set aside
 * for a new UUID, as an id of another shape is.
 */
describe('the x-request-id the service keeps', () => {
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

  it.each([
    ['a GitHub token', 'ghp_0123456789abcdefghijABCDEFGHIJ012345'],
    ['a Stripe secret key after a word', 'client:sk_live_0123456789abcdefghij'],
    ['an AWS access key id', 'AKIAIOSFODNN7EXAMPLE'],
  ])('is a new UUID when the one sent is %s: never logged, echoed or in a problem', async (_name, secret) => {
    const response = await fetch(`${svc.url}/v1/no-such-route`, { headers: { 'x-request-id': secret } });
    const problem = (await response.json()) as { requestId?: string };
    expect(response.status).toBe(404);
    expect(response.headers.get('x-request-id')).toMatch(UUID);
    expect(problem.requestId).toBe(response.headers.get('x-request-id'));
    expect(svc.logs().join('\n')).not.toContain(secret);
  });

  it('is the one sent when it begins like no secret token', async () => {
    const response = await fetch(`${svc.url}/v1/no-such-route`, { headers: { 'x-request-id': 'job-42.retry:1' } });
    const problem = (await response.json()) as { requestId?: string };
    expect(response.headers.get('x-request-id')).toBe('job-42.retry:1');
    expect(problem.requestId).toBe('job-42.retry:1');
    expect(svc.logs().some((line) => (JSON.parse(line) as { reqId?: string }).reqId === 'job-42.retry:1')).toBe(true);
  });
});
