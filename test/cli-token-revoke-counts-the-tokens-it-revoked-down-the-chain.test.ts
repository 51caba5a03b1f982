import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { startTestService } from './support/service.ts';

/*
 * Review 81's remainder: a token's revocation revokes every token issued with it, and with those, down the chain
 * (access-statements.ts), yet `credence token revoke --data` said only that they "now get 401", never how many it
 * ended. It now counts them (text and --json), and says when the token was revoked already (nothing more revoked).
 */

/**
 * Issues a token through the service with `bearer`: the new token and its id. One issued with a token of this file
 * asks for less than that token's hour: a token may not outlive the one that issues it, and a second boundary
 * crossed between the two made an hour too long under load.
 */
const issueWith = async (url: string, bearer: string, subject: string, role: string, ttl = '1h'): Promise<{ token: string; tokenId: string }> => {
  const response = await fetch(`${url}/v1/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: JSON.stringify({ subject, role, ttl }),
  });
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json()) as { token: string; tokenId: string };
};

describe('token revoke --data', () => {
  it('says how many tokens issued down its chain it revoked with it, and a second revoke that nothing more was', async () => {
    const svc = await startTestService();
    try {
      const parent = await issueWith(svc.url, svc.tokens.admin, 'parent-admin', 'admin');
      const child = await issueWith(svc.url, parent.token, 'child-admin', 'admin', '30m');
      await issueWith(svc.url, child.token, 'grandchild', 'operator', '15m');
      await issueWith(svc.url, svc.tokens.admin, 'sibling', 'auditor');

      const revoked = await runCli(['token', 'revoke', parent.tokenId, '--data', svc.dir]);
      expect(revoked.code, revoked.err).toBe(0);
      expect(revoked.err).toContain(`revoked ${parent.tokenId} and 2 token(s) issued with it down the chain`);

      const listed = await runCli(['token', 'list', '--all', '--json', '--data', svc.dir]);
      const states = Object.fromEntries((JSON.parse(listed.out).tokens as { subject: string; state: string }[]).map((t) => [t.subject, t.state]));
      expect(states).toMatchObject({ 'parent-admin': 'revoked', 'child-admin': 'revoked', grandchild: 'revoked', sibling: 'active' });

      const again = await runCli(['token', 'revoke', parent.tokenId, '--data', svc.dir, '--json']);
      expect(again.code, again.err).toBe(0);
      expect(JSON.parse(again.out)).toMatchObject({ revoked: parent.tokenId, chained: 0, revokedBefore: expect.any(String) });

      const alone = await issueWith(svc.url, svc.tokens.admin, 'alone', 'auditor');
      const one = await runCli(['token', 'revoke', alone.tokenId, '--data', svc.dir, '--json']);
      expect(JSON.parse(one.out)).toEqual({ revoked: alone.tokenId, chained: 0 });
    } finally {
      await svc.close();
    }
  }, 120_000);

  it('counts the live chain of a token signed out alone, revoked now, and says the token itself was revoked already', async () => {
    // Review 93: DELETE /v1/session revokes the caller's token alone; a later revoke of it ends what it issued, which
    // the CLI called "nothing more revoked" (it inferred the count from the revocation times).
    const svc = await startTestService();
    try {
      const parent = await issueWith(svc.url, svc.tokens.admin, 'parent-admin', 'admin');
      await issueWith(svc.url, parent.token, 'integrator-01', 'integrator', '30m');
      const signedOut = await fetch(`${svc.url}/v1/session`, { method: 'DELETE', headers: { authorization: `Bearer ${parent.token}` } });
      expect(signedOut.status).toBe(204);

      const text = await runCli(['token', 'revoke', parent.tokenId, '--data', svc.dir]);
      expect(text.code, text.err).toBe(0);
      expect(text.err).toContain(`${parent.tokenId} was revoked already`);
      expect(text.err).toContain('revoked now the 1 token(s) issued with it down the chain that were still live');
      const listed = await runCli(['token', 'list', '--all', '--json', '--data', svc.dir]);
      const states = Object.fromEntries((JSON.parse(listed.out).tokens as { subject: string; state: string }[]).map((t) => [t.subject, t.state]));
      expect(states).toMatchObject({ 'parent-admin': 'revoked', 'integrator-01': 'revoked' });

      const again = await runCli(['token', 'revoke', parent.tokenId, '--data', svc.dir, '--json']);
      expect(JSON.parse(again.out)).toMatchObject({ revoked: parent.tokenId, chained: 0, revokedBefore: expect.any(String) });
    } finally {
      await svc.close();
    }
  }, 120_000);
});
