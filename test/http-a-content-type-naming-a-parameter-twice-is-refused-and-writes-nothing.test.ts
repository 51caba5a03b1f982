/**
 * Review 219: the JSON parser judged a body's `charset` by the first `charset` parameter of its Content-Type, so
 * `application/json; charset=utf-8; charset=latin1` was accepted and written while the same parameters the other way
 * round were refused 415: a proxy or another reader taking the last value reads that body as Latin-1. A parameter named
 * twice (RFC 9110 8.3.1: names are case-insensitive) now makes the Content-Type refused, 415 naming the parameter,
 * before the body is read; and a `;` inside a quoted value starts no parameter.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';

describe('a Content-Type naming a parameter twice is refused, and writes nothing', () => {
  let svc: TestService;
  let n = 0;

  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
  });

  /** Asks for a token for a new subject with `contentType`: the answer, and whether a token of that subject exists. */
  const issueWith = async (contentType: string) => {
    const subject = `zz-ct-${n++}`;
    const response = await fetch(`${svc.url}/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens.admin}`, 'content-type': contentType },
      body: JSON.stringify({ subject, role: 'auditor', ttl: 60 }),
    });
    const body = (await response.json()) as Record<string, unknown>;
    const listed = await fetch(`${svc.url}/v1/tokens?limit=1000`, { headers: { authorization: `Bearer ${svc.tokens.admin}` } });
    const { tokens } = (await listed.json()) as { tokens: { subject: string }[] };
    return { status: response.status, body, written: tokens.some((t) => t.subject === subject) };
  };

  it.each([
    ['utf-8 then latin1', 'application/json; charset=utf-8; charset=latin1', 'charset'],
    ['latin1 then utf-8', 'application/json; charset=latin1; charset=utf-8', 'charset'],
    ['twice the same', 'application/json; charset=utf-8; charset=utf-8', 'charset'],
    ['in two cases', 'application/json; charset=utf-8; CharSet=utf-8', 'charset'],
    ['another parameter', 'application/json; profile=a; charset=utf-8; profile=b', 'profile'],
  ])('charset %s is 415 naming the parameter, and nothing is written', async (_what, contentType, parameter) => {
    const { status, body, written } = await issueWith(contentType);
    expect(status).toBe(415);
    expect(body).toMatchObject({ type: 'https://credence.dev/problems/unsupported_media_type' });
    expect(body['detail']).toContain(`\`${parameter}\``);
    expect(written).toBe(false);
  });

  it('reads the charset after a quoted value holding "; charset=utf-8" as the charset: latin1 is refused', async () => {
    const { status, written } = await issueWith('application/json; note="; charset=utf-8"; charset=latin1');
    expect(status).toBe(415);
    expect(written).toBe(false);
  });

  it.each([
    'application/json',
    'application/json; charset=utf-8',
    'application/json; charset="UTF-8"',
    'application/json; note="a; b"; charset=utf-8',
  ])('%s, each parameter once, is read', async (contentType) => {
    const { status, written } = await issueWith(contentType);
    expect(status).toBe(201);
    expect(written).toBe(true);
  });
});
