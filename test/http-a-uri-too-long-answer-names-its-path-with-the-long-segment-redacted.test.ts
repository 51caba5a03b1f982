/**
 * Review 219: a path segment longer than the router takes was answered 414 `uri_too_long` with no `instance`, and the
 * code was missing from docs/service.md's Errors table, which says every problem has `instance`. Now the 414 has it:
 * the path as other problems write it (a segment holding a token `[redacted]`), and the segment too long for the
 * router `[redacted]` as well, so the answer still echoes nothing of what was wrong.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PATH_PARAM_CHARS } from '../adapters/http/path-params.ts';
import { startTestService, type TestService } from './support/service.ts';

const MARKER = 'reflected-marker';
const LONG = `${MARKER}${'y'.repeat(MAX_PATH_PARAM_CHARS)}`;
/** The shape of a JWT, which every log line and problem writes `[redacted]`. */
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLWJ5dGVz';

describe('a 414 answer names its path, the segment too long redacted', () => {
  let svc: TestService;

  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
  });

  const get = async (path: string) => {
    const response = await fetch(`${svc.url}${path}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    return { status: response.status, text: await response.text() };
  };

  it('answers a 600-character segment with 414 and its instance, the segment written [redacted]', async () => {
    const { status, text } = await get(`/v1/entities/node/${LONG}${'z'.repeat(600 - LONG.length)}`);
    expect(status).toBe(414);
    expect(text).not.toContain(MARKER);
    expect(JSON.parse(text)).toEqual({
      type: 'https://credence.dev/problems/uri_too_long',
      title: 'URI too long',
      status: 414,
      detail: expect.any(String),
      instance: '/v1/entities/node/[redacted]',
      requestId: expect.any(String),
    });
  });

  it('writes a segment holding a token [redacted] as every other problem does', async () => {
    const { status, text } = await get(`/v1/entities/${JWT}/${LONG}`);
    expect(status).toBe(414);
    expect(text).not.toContain('eyJ');
    expect(JSON.parse(text)).toMatchObject({ instance: '/v1/entities/[redacted]/[redacted]' });
  });

  it("is a row of docs/service.md's Errors table", () => {
    const doc = readFileSync(new URL('../docs/service.md', import.meta.url), 'utf8');
    const errors = doc.slice(doc.indexOf('\n## Errors\n'), doc.indexOf('\n## ', doc.indexOf('\n## Errors\n') + 1));
    expect(errors).toMatch(/^\| 414 \| `uri_too_long` \|/m);
  });
});
