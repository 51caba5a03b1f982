import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOGGED_QUERY_PARAMETERS, redactUrl } from '../adapters/http/logging.ts';
import { PageCursor } from '../adapters/http/routes/wire.ts';
import { startTestService, type TestService } from './support/service.ts';

// A JWT-shaped text (header `{"alg":"none"}`): what the scan of names, values and path segments looks for.
const JWT = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
// A cursor as GET /v1/entities issues one: the only `cursor` a log line keeps.
const CURSOR = PageCursor.encode('node-meter-1', '["node","revoked"]');

// The shapes of values: redactUrl as on a route that takes every one of the service's names (LOGGED_QUERY_PARAMETERS).
describe('redactUrl keeps the service\'s own query parameters only, with values of their shape (SER-001)', () => {
  it.each([
    // Review 48: a name of another's is redacted with its value (it was kept, so a padded base64 token read as a name).
    ['a signature under a name of its own', '/v1/entities?sig=c2VjcmV0LXNpZw', '/v1/entities?[redacted]'],
    ['an opaque non-JWT token', '/v1/entities?auth=tok_9f8e7d6c5b4a', '/v1/entities?[redacted]'],
    ['a PSK in hex', '/v1/entities?psk_hex=00112233445566778899aabbccddeeff', '/v1/entities?[redacted]'],
    ['a secret-named one, as before', '/v1/entities?access_token=abc', '/v1/entities?[redacted]'],
    ['a padded base64 token with no name', '/v1/tokens?dGhpc2lzYXNlY3JldGtleQ==', '/v1/tokens?[redacted]'],
    ['a short name-like word of another\'s', '/v1/tokens?page=2', '/v1/tokens?[redacted]'],
    ['a bare part with no `=`, which may be a token itself', '/v1/entities?c2VjcmV0LXRva2Vu', '/v1/entities?[redacted]'],
    ['a name that is not name-like', '/v1/entities?00112233445566778899aabbccddeeff00112233=1', '/v1/entities?[redacted]'],
    ['a name holding a JWT', `/v1/entities?${JWT}=1`, '/v1/entities?[redacted]'],
    ['an escaped spelling of one of its own names', '/v1/entities?%6Bind=secret', '/v1/entities?[redacted]'],
  ])('redacts %s', (_what, url, logged) => {
    expect(redactUrl(url, LOGGED_QUERY_PARAMETERS)).toBe(logged);
  });

  it.each([
    ['a listing', `/v1/entities?kind=node&state=revoked&limit=10&cursor=${CURSOR}`, `/v1/entities?kind=node&state=revoked&limit=10&cursor=${CURSOR}`],
    ['a stream filter', '/v1/events?kind=node,credential&type=NodeRevoked&after=12', '/v1/events?kind=node,credential&type=NodeRevoked&after=12'],
    ['a compliance query', '/v1/compliance/revocations?reason=keyCompromise&from=2026-01-01&to=2026-02-01', '/v1/compliance/revocations?reason=keyCompromise&from=2026-01-01&to=2026-02-01'],
    ['its own beside another\'s', '/v1/tokens?limit=5&sig=zzz&includeExpired=true', '/v1/tokens?limit=5&[redacted]&includeExpired=true'],
    ['a list repeated', '/v1/events?kind=node&kind=credential&stream=node-meter-1', '/v1/events?kind=node&kind=credential&stream=node-meter-1'],
    ['a date-time with its offset', '/v1/entities/node/meter-1/state?at=2026-02-01T00:00:00%2B01:00', '/v1/entities/node/meter-1/state?at=2026-02-01T00:00:00%2B01:00'],
  ])('keeps %s', (_what, url, logged) => {
    expect(redactUrl(url, LOGGED_QUERY_PARAMETERS)).toBe(logged);
  });

  // Review 48: whatever followed one of its own names was kept whole, another parameter smuggled in it too.
  it.each([
    ['a second parameter after `;`', '/v1/tokens?limit=5;sig=S3CRET', '/v1/tokens?limit=[redacted]'],
    ['a second parameter after `?`', '/v1/tokens?limit=5?sig=S3CRET', '/v1/tokens?limit=[redacted]'],
    ['a fragment', '/v1/tokens?limit=5#sig=S3CRET', '/v1/tokens?limit=[redacted]'],
    ['a fragment in a word-valued parameter', '/v1/entities?kind=node#sig=S3CRET', '/v1/entities?kind=[redacted]'],
    // includeExpired takes true or false only (review 60): another spelling is a value the service refuses.
    ['a flag spelled otherwise', '/v1/tokens?includeExpired=yes', '/v1/tokens?includeExpired=[redacted]'],
    ['an escaped `=`', '/v1/entities?cursor=abc%3DS3CRET', '/v1/entities?cursor=[redacted]'],
    ['an escaped `;`, escaped twice', '/v1/entities?state=x%253Bsig', '/v1/entities?state=[redacted]'],
    ['a number parameter repeated', '/v1/tokens?limit=1&limit=S3CRET', '/v1/tokens?limit=1&limit=[redacted]'],
    ['a word parameter repeated', `/v1/entities?cursor=${CURSOR}&cursor=S3CRET`, `/v1/entities?cursor=${CURSOR}&cursor=[redacted]`],
    ['a number parameter holding a word', '/v1/compliance/revocations?after=S3CRET', '/v1/compliance/revocations?after=[redacted]'],
    ['a value longer than any a route takes', `/v1/entities?cursor=${'a'.repeat(513)}`, '/v1/entities?cursor=[redacted]'],
  ])('redacts the value of one of its own names holding %s', (_what, url, logged) => {
    expect(redactUrl(url, LOGGED_QUERY_PARAMETERS)).toBe(logged);
  });

  it('still redacts a JWT in the value of one of its own names, and in the path', () => {
    expect(redactUrl(`/v1/entities?cursor=${JWT}&limit=2`, LOGGED_QUERY_PARAMETERS)).toBe('/v1/entities?cursor=[redacted]&limit=2');
    expect(redactUrl(`/v1/entities/node/${JWT}`, LOGGED_QUERY_PARAMETERS)).toBe('/v1/entities/node/[redacted]');
  });
});

describe('the logged query parameters are exactly those the routes document', () => {
  let svc: TestService;
  let documented: Set<string>;
  beforeAll(async () => {
    svc = await startTestService();
    // The OpenAPI document is generated from every route's `querystring` schema (hidden routes take no query).
    const doc = (await (await fetch(`${svc.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { parameters?: { in: string; name: string }[] }>>;
    };
    documented = new Set(
      Object.values(doc.paths).flatMap((operations) =>
        Object.values(operations).flatMap((op) => (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name)),
      ),
    );
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('knows every query parameter a route takes (a new one must be added to LOGGED_QUERY_PARAMETERS)', () => {
    expect(documented.size).toBeGreaterThan(10);
    expect([...documented].filter((name) => !LOGGED_QUERY_PARAMETERS.has(name))).toEqual([]);
  });

  it('keeps no name that no route takes', () => {
    expect([...LOGGED_QUERY_PARAMETERS].filter((name) => !documented.has(name))).toEqual([]);
  });

  it('logs a request\'s own parameters and redacts the value of one of another name', async () => {
    const before = svc.logs().length;
    await fetch(`${svc.url}/v1/entities?kind=node&sig=s3cr3t-SIG-VALUE`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    const urls = svc
      .logs()
      .slice(before)
      .map((l) => (JSON.parse(l) as { req?: { url: string } }).req?.url)
      .filter((u) => u !== undefined);
    expect(urls).toContain('/v1/entities?kind=node&[redacted]');
    expect(svc.logs().join('\n')).not.toContain('s3cr3t-SIG-VALUE');
  });
});
