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
  await fetch(`${svc.url}/healthz`, { headers: { 'x-request-id': requestId, ...headers } });
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
