/**
 * Review 186 item 5: `DELETE /v1/tokens/{tokenId}` answered 204 whether it revoked the token or found it revoked
 * already, so `credence token revoke --server` said "revoked tok_…: requests with it … now get 401" a second time,
 * where `--data` says "was revoked already (…): nothing more revoked". The server now answers 200 with when it was
 * revoked (and how many tokens down its chain this revocation ended) for one revoked already, still 204 for a fresh
 * revocation; revoking twice is never an error. The CLI says it in the words of a local revocation.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { startTestService } from './support/service.ts';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

const issueWith = async (url: string, token: string, subject: string, role: string, ttl = '1h'): Promise<{ token: string; tokenId: string }> => {
  const response = await fetch(`${url}/v1/tokens`, {
    method: 'POST',
    headers: { ...bearer(token), 'content-type': 'application/json' },
    body: JSON.stringify({ subject, role, ttl }),
  });
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json()) as { token: string; tokenId: string };
};

describe('a token revoked already, revoked again through the service', () => {
  it('DELETE answers 204 the first time, then 200 with when it was revoked; the CLI says it was revoked already', async () => {
    const svc = await startTestService();
    try {
      const issued = await issueWith(svc.url, svc.tokens.admin, 'integrator-01', 'integrator');
      const first = await fetch(`${svc.url}/v1/tokens/${issued.tokenId}`, { method: 'DELETE', headers: bearer(svc.tokens.admin) });
      expect(first.status).toBe(204);
      const second = await fetch(`${svc.url}/v1/tokens/${issued.tokenId}`, { method: 'DELETE', headers: bearer(svc.tokens.admin) });
      expect(second.status).toBe(200);
      const body = (await second.json()) as { tokenId: string; revokedBefore: string; chained: number };
      expect(body).toEqual({ tokenId: issued.tokenId, revokedBefore: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), chained: 0 });

      const server = ['--server', svc.url, '--token', svc.tokens.admin];
      const text = await runCli(['token', 'revoke', issued.tokenId, ...server]);
      expect(text.code, text.err).toBe(0);
      expect(text.err).toBe(`${issued.tokenId} was revoked already (${body.revokedBefore}): nothing more revoked`);
      const asJson = await runCli(['token', 'revoke', issued.tokenId, ...server, '--json']);
      expect(asJson.code, asJson.err).toBe(0);
      expect(JSON.parse(asJson.out)).toEqual({ revoked: issued.tokenId, chained: 0, revokedBefore: body.revokedBefore });

      // A fresh revocation through the CLI still says it revoked it.
      const fresh = await issueWith(svc.url, svc.tokens.admin, 'auditor-01', 'auditor');
      const revoked = await runCli(['token', 'revoke', fresh.tokenId, ...server]);
      expect(revoked.code, revoked.err).toBe(0);
      expect(revoked.err).toMatch(new RegExp(`^revoked ${fresh.tokenId}: `));
    } finally {
      await svc.close();
    }
  }, 120_000);

  it('counts the live chain of a token signed out alone, as a local revoke does', async () => {
    const svc = await startTestService();
    try {
      const parent = await issueWith(svc.url, svc.tokens.admin, 'parent-admin', 'admin');
      await issueWith(svc.url, parent.token, 'integrator-01', 'integrator', '30m');
      expect((await fetch(`${svc.url}/v1/session`, { method: 'DELETE', headers: bearer(parent.token) })).status).toBe(204);

      const r = await runCli(['token', 'revoke', parent.tokenId, '--server', svc.url, '--token', svc.tokens.admin]);
      expect(r.code, r.err).toBe(0);
      expect(r.err).toMatch(new RegExp(`^${parent.tokenId} was revoked already \\(\\d{4}-[^)]+\\); revoked now the 1 token\\(s\\) issued with it down the chain that were still live`));
    } finally {
      await svc.close();
    }
  }, 120_000);
});
