import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { holdsJwtText, LOGGED_QUERY_PARAMETERS, MAX_SCANNED_CHARS, redactUrl } from '../adapters/http/redact-url.ts';
import { startTestService, type TestService } from './support/service.ts';

// Review 48: a regex scan for tokens backtracked from every `eyJ` of a long run with no dot; a 64 KiB URL took
// seconds, three times per request. No timing here (the machines are noisy): the bound and the scan's answers.
// redactUrl as on a route that takes every one of the service's names (LOGGED_QUERY_PARAMETERS).
describe('redactUrl reads no URL component past its bound (SER-001, availability)', () => {
  it('redacts a path segment or a query part past the bound whole, unread, whatever it holds', () => {
    const plain = 'a'.repeat(MAX_SCANNED_CHARS + 1);
    expect(redactUrl(`/v1/entities/node/${plain}`, LOGGED_QUERY_PARAMETERS)).toBe('/v1/entities/node/[redacted]');
    expect(redactUrl(`/v1/events?stream=${plain}`, LOGGED_QUERY_PARAMETERS)).toBe('/v1/events?stream=[redacted]');
    expect(redactUrl(`/v1/entities/node/${'a'.repeat(MAX_SCANNED_CHARS)}`, LOGGED_QUERY_PARAMETERS)).toBe(`/v1/entities/node/${'a'.repeat(MAX_SCANNED_CHARS)}`);
  });

  it('redacts each component of a 64 KiB adversarial URL', () => {
    const run = 'eyJ'.repeat(21_845);
    expect(redactUrl(`/x/${run}`, LOGGED_QUERY_PARAMETERS)).toBe('/x/[redacted]');
    expect(redactUrl(`/x?${run}`, LOGGED_QUERY_PARAMETERS)).toBe('/x?[redacted]');
    expect(redactUrl(`/x?limit=${run}`, LOGGED_QUERY_PARAMETERS)).toBe('/x?limit=[redacted]');
    // Many components each under the bound: each scanned once, in one pass. Each after an `x`: a segment beginning
    // `eyJ`, as a token does, is redacted whatever follows (review 219, secret-token-prefixes.ts).
    const parts = Array.from({ length: 32 }, () => `x${'eyJ'.repeat(680)}`).join('/');
    expect(redactUrl(`/x/${parts}`, LOGGED_QUERY_PARAMETERS)).toBe(`/x/${parts}`);
  });
});

describe('the token scan finds what the regex found', () => {
  const REGEX = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/;

  it.each([
    'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2lnbmF0dXJl',
    'Bearer eyJa.b.c',
    'xeyJa.b.',
    'eyJ.b.',
    'eyJa..eyJb.c.',
    'eyJa.eyJb!x',
    'eyJa.b',
    'ey.J.b.c',
    'eyJa!b.c.d',
    'abc.eyJ.x.',
    'eyJa.b c.d',
    'eye.eyJ',
  ])('on %s', (text) => {
    expect(holdsJwtText(text)).toBe(REGEX.test(text));
  });

  it('on every short text of its alphabet', () => {
    const alphabet = ['e', 'y', 'J', '.', 'a', '!'];
    const texts = [''];
    const differing: string[] = [];
    for (let length = 1; length <= 7; length++) {
      for (const text of texts.splice(0)) for (const c of alphabet) texts.push(text + c);
      for (const text of texts) if (holdsJwtText(text) !== REGEX.test(text)) differing.push(text);
    }
    expect(differing).toEqual([]);
  });
});

describe('a long URL end to end', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('answers an unknown 15 KiB `eyJ…` path with the segment redacted in the problem and the log', async () => {
    const before = svc.logs().length;
    const response = await fetch(`${svc.url}/v1/x/${'eyJ'.repeat(5000)}`);
    expect(response.status).toBe(404);
    const problem = (await response.json()) as { instance: string; detail: string };
    expect(problem.instance).toBe('/v1/x/[redacted]');
    const urls = svc
      .logs()
      .slice(before)
      .map((l) => (JSON.parse(l) as { req?: { url: string } }).req?.url)
      .filter((u) => u !== undefined);
    expect(urls).toContain('/v1/x/[redacted]');
  });
});
