/**
 * Review 257 finding 2: `Authorization: Basic abc` was refused 401 `reason: "malformed"` with `WWW-Authenticate:
 * Bearer realm="credence", error="invalid_token"`. RFC 6750 §3.1: a request that carries no bearer token (another
 * scheme is none) gets no error code. Its own reason, `not_bearer`, a detail naming the scheme (never what follows
 * it), and the challenge without `error=`, as for `missing`.
 */
import { describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';

const svc = useTestService({}, 60_000);

const withAuthorization = async (authorization: string) => {
  const response = await fetch(`${svc.url}/v1/tokens`, { headers: { authorization } });
  const text = await response.text();
  return { status: response.status, challenge: response.headers.get('www-authenticate'), text, problem: JSON.parse(text) as { reason?: string; detail?: string } };
};

describe('a request authorised under a scheme other than Bearer', () => {
  it.each([
    ['Basic dXNlcjpwYXNz', 'Basic', 'dXNlcjpwYXNz'],
    ['basic c2VjcmV0LXBhc3N3b3Jk', 'Basic', 'c2VjcmV0LXBhc3N3b3Jk'],
    ['Digest username="alice", response="6629fae49393a05397450978507c4ef1"', 'Digest', '6629fae49393a05397450978507c4ef1'],
  ])('%j: 401 not_bearer naming %s, the challenge without error=, the credentials nowhere', async (authorization, scheme, secret) => {
    const answer = await withAuthorization(authorization);
    expect(answer.status).toBe(401);
    expect(answer.problem.reason).toBe('not_bearer');
    expect(answer.problem.detail).toContain(scheme);
    expect(answer.challenge).toBe('Bearer realm="credence"');
    expect(answer.text).not.toContain(secret);
  });

  it('a token sent without its scheme, or a scheme it does not know, is not echoed: a raw token is a secret', async () => {
    for (const authorization of [svc.tokens.admin, 'X-Custom-Secret-Scheme-4f1e sk_live_0123456789']) {
      const answer = await withAuthorization(authorization);
      expect(answer.status).toBe(401);
      expect(answer.problem.reason).toBe('not_bearer');
      expect(answer.challenge).toBe('Bearer realm="credence"');
      for (const part of authorization.split(' ')) expect(answer.text).not.toContain(part);
    }
  });

  it('leaves a Bearer header with two words malformed, its challenge invalid_token', async () => {
    const answer = await withAuthorization('Bearer a b');
    expect(answer.problem.reason).toBe('malformed');
    expect(answer.challenge).toBe('Bearer realm="credence", error="invalid_token"');
  });
});
