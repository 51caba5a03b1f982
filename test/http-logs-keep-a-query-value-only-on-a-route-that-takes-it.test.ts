import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOGGED_QUERY_PARAMETERS, redactUrl } from '../adapters/http/redact-url.ts';
import { NO_QUERY_PARAMETERS } from '../adapters/http/route-query-parameters.ts';
import { PageCursor } from '../adapters/http/routes/wire.ts';
import { startTestService, type TestService } from './support/service.ts';

// Review 52: identifier parameters (`actor`, `subscription`, `predecessorId`, `stream`) take any printable ASCII, and a
// value was kept on every path, /healthz and a 404 too; a token sent as one was logged as it came. Made-up tokens.
const GITHUB = 'ghp_R2d2C3poL8k1x9QzYw4vB7nM0aS6fD5gH3jK';
const STRIPE = 'sk_live_51HxAbCdEfGhIjKlMnOpQrStUv';
const AWS = 'AKIAIOSFODNN7EXAMPLE';

describe('redactUrl keeps a value only under a name the route takes, and no identifier shaped like a known token', () => {
  it.each([
    ['/healthz, which takes no query', '/healthz?subscription=sub-1&limit=5'],
    ['a path no route answers', '/v1/nope?actor=operator:alice&kind=node'],
  ])('keeps no value on %s', (_what, url) => {
    expect(redactUrl(url, NO_QUERY_PARAMETERS)).toBe(url.replace(/=[^&]*/g, '=[redacted]'));
  });

  it('keeps the value of a name the route takes, and not of one it does not', () => {
    expect(redactUrl('/v1/x?actor=operator:alice&at=2026-01-01', new Set(['actor']))).toBe('/v1/x?actor=operator:alice&at=[redacted]');
  });

  it.each([
    ['a GitHub token', `subscription=${GITHUB}`],
    ['a GitHub OAuth token', 'actor=gho_16C7e42F292c6912E7710c838347Ae178B4a'],
    ['a fine-grained GitHub token', 'predecessorId=github_pat_11ABCDEFG0123456789_abcdefghijklmnop'],
    ['a Stripe live key', `actor=${STRIPE}`],
    ['a Stripe test key', 'actor=sk_test_4eC39HqLyjWDarjtT1zdp7dc'],
    ['a Slack token', 'subscription=xoxb-2048-4096-AbCdEfGhIjKlMnOpQrSt'],
    ['an AWS key id in a stream', `stream=node-${AWS}`],
    ['a temporary AWS key id in a list of streams', 'stream=node-meter-1,node-ASIAY34FZKBOKMUTVV7A'],
    ['a token after the kind of an actor', `actor=operator:${GITHUB}`],
    ['a cursor a client made around a stream id', `cursor=${PageCursor.encode(`node-${STRIPE}`, '[null,null]')}`],
  ])('redacts %s even where the route takes the name', (_what, query) => {
    const name = query.slice(0, query.indexOf('='));
    expect(redactUrl(`/v1/x?${query}`, LOGGED_QUERY_PARAMETERS)).toBe(`/v1/x?${name}=[redacted]`);
  });

  it.each(['actor=operator:alice', 'subscription=sub-1', 'predecessorId=cred-meter-1.v1', 'stream=node-meter-1,node-AS1'])(
    'still keeps an identifier that begins like none: %s',
    (query) => {
      expect(redactUrl(`/v1/x?${query}`, LOGGED_QUERY_PARAMETERS)).toBe(`/v1/x?${query}`);
    },
  );
});

describe('the logged URL of a request, by the route it reached', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
  });

  const loggedUrls = async (path: string): Promise<{ urls: string[]; logs: string }> => {
    const before = svc.logs().length;
    const id = (await fetch(`${svc.url}${path}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } })).headers.get('x-request-id');
    // The request's one line is written as it completes (review 381): give the log a moment.
    for (let i = 0; i < 50 && !svc.logs().slice(before).some((l) => id !== null && l.includes(id)); i++) await new Promise((r) => setTimeout(r, 20));
    const lines = svc.logs().slice(before);
    const urls = lines.map((l) => (JSON.parse(l) as { req?: { url: string } }).req?.url).filter((u) => u !== undefined);
    return { urls, logs: lines.join('\n') };
  };

  it.each([
    // Not /healthz: answered, a probe writes no line (review 381); /openapi.json takes no query either.
    ['/openapi.json', `subscription=${GITHUB}`, GITHUB],
    ['/openapi.json', 'subscription=opaque-subscription-token-7f3a', 'opaque-subscription-token-7f3a'],
    ['/v1/nope', `actor=${STRIPE}`, STRIPE],
    ['/v1/nope', 'actor=operator:alice', 'operator:alice'],
    ['/v1/entities/node/meter-1/state', 'actor=operator:alice', 'operator:alice'],
    ['/v1/entities', `cursor=${PageCursor.encode(`node-${STRIPE}`, '[null,null]')}`, STRIPE],
  ])('redacts the value on %s?%s, a route that does not take it or a token', async (path, query, secret) => {
    const name = query.slice(0, query.indexOf('='));
    const { urls, logs } = await loggedUrls(`${path}?${query}`);
    expect(urls).toContain(`${path}?${name}=[redacted]`);
    expect(logs).not.toContain(secret);
    expect(logs).not.toContain(query.slice(name.length + 1));
  });

  it('keeps an identifier on a route that takes it', async () => {
    const { urls } = await loggedUrls('/v1/compliance/actions?actor=operator:alice&limit=5');
    expect(urls).toContain('/v1/compliance/actions?actor=operator:alice&limit=5');
  });
});
