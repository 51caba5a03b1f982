import { describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';

/*
 * Review 330 item 3: a refused request was logged (then as `incoming request` and `request completed`) with its status only;
 * the problem's code, and for a 401 its reason (missing, revoked, expired, …), were in the answer the client got and
 * nowhere in the log, so an operator could not tell a revoked token from a forged one. The completion line's `res`
 * now names the problem's `code`, a 401's (or 503's) `reason` and a 400's rule names: words of the service's own, never
 * what the client sent.
 */

interface LogLine {
  readonly msg?: string;
  readonly reqId?: string;
  readonly res?: { readonly statusCode?: number; readonly problem?: string; readonly reason?: string; readonly rules?: readonly string[] };
}

describe("a refusal's log line", () => {
  const svc = useTestService();

  const completionOf = async (path: string, init: RequestInit = {}): Promise<LogLine['res']> => {
    const res = await fetch(`${svc.url}${path}`, init);
    await res.arrayBuffer();
    const id = res.headers.get('x-request-id');
    // The completion line is written as the answer ends: give the log a moment.
    for (let i = 0; i < 50; i++) {
      const line = svc
        .logs()
        .map((l) => JSON.parse(l) as LogLine)
        .find((l) => l.reqId === id && l.msg === 'request completed');
      if (line !== undefined) return line.res;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no request completed line for ${path}`);
  };

  it('names the problem code, and a 401 its reason', async () => {
    expect(await completionOf('/v1/entities')).toEqual({ statusCode: 401, problem: 'unauthenticated', reason: 'missing' });

    const { token, tokenId } = await svc.service.context.access.issue({ subject: 'soon-revoked', role: 'operator', ttlSeconds: 3600, issuedBy: 'test' });
    expect(svc.service.context.access.revoke(tokenId, 'test')).toBe(true);
    expect(await completionOf('/v1/entities', { headers: { authorization: `Bearer ${token}` } })).toEqual({
      statusCode: 401,
      problem: 'unauthenticated',
      reason: 'revoked',
    });

    expect(await completionOf('/v1/tokens', { headers: { authorization: `Bearer ${svc.tokens.integrator}` } })).toEqual({
      statusCode: 403,
      problem: 'forbidden',
    });
    expect(await completionOf('/no-such-route-SEKRET')).toEqual({ statusCode: 404, problem: 'route_not_found' });
    expect(await completionOf('/v1/entities?limit=SEKRET', { headers: { authorization: `Bearer ${svc.tokens.operator}` } })).toMatchObject({
      statusCode: 400,
      problem: 'validation',
      rules: [expect.any(String)],
    });
    // An answered request names no problem (a probe answered writes no line: review 381).
    expect(await completionOf('/openapi.json')).toEqual({ statusCode: 200 });
    // What `res` says is the service's own words (the line's `req.url` is the path, redacted as every URL is).
    const refusals = svc.logs().map((l) => (JSON.parse(l) as LogLine).res).filter((res) => res?.problem !== undefined);
    expect(refusals.length).toBeGreaterThan(0);
    expect(JSON.stringify(refusals)).not.toContain('SEKRET');
  });
});
