import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOGGED_QUERY_PARAMETERS, redactUrl } from '../adapters/http/logging.ts';
import { PageCursor } from '../adapters/http/routes/wire.ts';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

// Secrets a client may put in the value of one of the service's own query parameters. Each `core` is what the log
// must not hold, in part or whole.
const JWT = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJvcGVyYXRvcjphbGljZSJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg';
const OPAQUE = 'tok_9f8e7d6c5b4a39281706f5e4d3c2b1a0';
const PSK_HEX = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';
const PSK_BASE64 = 'ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8';
const PSK_BASE64URL = 'ABEiM0RVZneImaq7zN3u_wARIjNEVWZ3iJmqu8zd7v8';

/** Fit no shape at all: a JWT, or a token after `Bearer ` (a space, escaped or written `+`). */
const ANYWHERE = [
  ['a JWT', JWT],
  ['a bearer JWT', `Bearer%20${JWT}`],
  ['an opaque bearer token', `Bearer%20${OPAQUE}`],
  ['an opaque bearer token, its space a `+`', `Bearer+${OPAQUE}`],
] as const;
/** Also fit no shape of a parameter whose values are not identifiers (an id may look like anything printable). */
const BESIDE_IDENTIFIERS = [
  ['an opaque token', OPAQUE],
  ['a PSK in hex', PSK_HEX],
  ['a PSK in base64', PSK_BASE64],
  ['a PSK in base64url', PSK_BASE64URL],
] as const;
const IDENTIFIER_PARAMETERS = new Set(['actor', 'subscription', 'predecessorId']);

const cases = [...LOGGED_QUERY_PARAMETERS].flatMap((name) =>
  [...ANYWHERE, ...(IDENTIFIER_PARAMETERS.has(name) ? [] : BESIDE_IDENTIFIERS)].map(([what, secret]) => [name, what, secret] as const),
);
const partsOf = (secret: string): string[] => secret.replace(/^Bearer(%20|\+)/, '').split('.');

// The shapes of values: redactUrl as on a route that takes every one of the service's names (LOGGED_QUERY_PARAMETERS).
describe('redactUrl keeps no secret in the value of one of the service\'s own parameters (SER-001)', () => {
  it.each(cases)('redacts ?%s= holding %s', (name, _what, secret) => {
    const logged = redactUrl(`/v1/x?${name}=${secret}`, LOGGED_QUERY_PARAMETERS);
    expect(logged).toBe(`/v1/x?${name}=[redacted]`);
    for (const part of partsOf(secret)) expect(logged).not.toContain(part);
  });

  it('redacts a secret inside an entity stream of a `stream` list', () => {
    expect(redactUrl(`/v1/events?stream=node-meter-1,node-Bearer+${OPAQUE}`, LOGGED_QUERY_PARAMETERS)).toBe('/v1/events?stream=[redacted]');
    expect(redactUrl(`/v1/events?stream=${PSK_HEX}`, LOGGED_QUERY_PARAMETERS)).toBe('/v1/events?stream=[redacted]');
  });

  it.each([
    ['a base64url opaque token', PSK_BASE64URL],
    ['a cursor of a client\'s own around a JWT', PageCursor.encode(`node-${JWT}`, '[null,null]')],
    ['a cursor whose listing is not one the service lists', PageCursor.encode('node-meter-1', `["node","${OPAQUE}"]`)],
    ['a cursor with a field of its own', Buffer.from(JSON.stringify({ after: 'node-meter-1', query: '[null,null]', sig: OPAQUE })).toString('base64url')],
    ['a cursor written otherwise than the service writes one', Buffer.from('{ "after": "node-meter-1", "query": "[null,null]" }').toString('base64url')],
  ])('redacts a `cursor` the service never issued: %s', (_what, cursor) => {
    expect(redactUrl(`/v1/entities?cursor=${cursor}`, LOGGED_QUERY_PARAMETERS)).toBe('/v1/entities?cursor=[redacted]');
  });

  it.each([
    ['a cursor as the service issues one', `cursor=${PageCursor.encode('node-meter-1', '["node","revoked"]')}&kind=node&state=revoked`],
    ['a compliance query by actor and window', 'actor=operator:alice&from=2026-01-01&to=2026-02-01T00:00:00Z&limit=5&after=12'],
    ['a subscription, a number of days and an instant', 'subscription=sub-1&days=30&now=2026-01-01T00:00:00.000Z&order=newest&reason=keyCompromise'],
    ['an event stream filter', 'kind=node%2Ccredential&type=NodeRevoked&stream=node-meter-1&identifiers=canonical&from=start'],
    ['a predecessor and flags', 'predecessorId=cred-meter-1.v1&includeExpired=true&full=false&position=7'],
  ])('keeps what operators read: %s', (_what, query) => {
    expect(redactUrl(`/v1/x?${query}`, LOGGED_QUERY_PARAMETERS)).toBe(`/v1/x?${query}`);
  });
});

describe('the logs of requests with a secret in an own parameter\'s value', () => {
  let svc: TestService;
  let api: Api;
  let issued: string;
  beforeAll(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    const command = async (payload: unknown) => expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: payload })).status).toBe(201);
    await command(body.createSubscription());
    for (const n of ['meter-01', 'meter-02']) await command(body.registerNode(n));
    await settled(svc);
    issued = (await api.call('GET', '/v1/entities', {}, { token: svc.tokens.auditor, query: { kind: 'node', limit: '1' } })).body.nextCursor as string;
  });
  afterAll(async () => {
    await svc?.close();
  });

  const loggedUrls = async (path: string): Promise<string[]> => {
    const before = svc.logs().length;
    await fetch(`${svc.url}${path}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    return svc
      .logs()
      .slice(before)
      .map((l) => (JSON.parse(l) as { req?: { url: string } }).req?.url)
      .filter((u) => u !== undefined);
  };

  it('logs a cursor the service issued as it is', async () => {
    expect(issued).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(await loggedUrls(`/v1/entities?kind=node&limit=1&cursor=${issued}`)).toContain(`/v1/entities?kind=node&limit=1&cursor=${issued}`);
  });

  it.each([
    ['/v1/entities', 'cursor', `Bearer%20${JWT}`],
    ['/v1/entities', 'cursor', OPAQUE],
    ['/v1/entities', 'state', 'ABEiMeRVZneImaqzNuwARIjNEVWZiJmqu'],
    ['/v1/compliance/actions', 'actor', `Bearer+${OPAQUE}`],
    ['/v1/compliance/provisioned', 'subscription', JWT],
    ['/v1/compliance/revocations', 'reason', PSK_HEX],
    ['/v1/compliance/revocations', 'from', PSK_BASE64URL],
    ['/v1/compliance/expiring', 'days', OPAQUE],
  ])('logs no part of a secret in %s?%s=', async (path, name, secret) => {
    const before = svc.logs().length;
    expect(await loggedUrls(`${path}?${name}=${secret}`)).toContain(`${path}?${name}=[redacted]`);
    const logs = svc.logs().slice(before).join('\n');
    for (const part of partsOf(secret)) expect(logs).not.toContain(part);
  });
});
