import { describe, expect, it } from 'vitest';
import { ROLES } from '../adapters/http/auth/access-control.ts';
import { openStream } from './http-sse.fixtures.ts';
import { useTestService } from './support/service.ts';

// Signing out (DELETE /v1/session) ends the token the request carries, whatever its role, so that a console or a
// script done with a token leaves nothing valid behind (before, the console forgot it in the tab only). It ends that
// token alone: the holder's other tokens, and everyone else's, go on.

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('DELETE /v1/session: signing out revokes the caller\'s own token', () => {
  const svc = useTestService();

  const issue = async (subject: string, role: (typeof ROLES)[number]) =>
    svc.service.context.access.issue({ subject, role, ttlSeconds: 3600, issuedBy: 'test' });
  const signOutStatus = async (token: string) => (await fetch(`${svc.url}/v1/session`, { method: 'DELETE', headers: bearer(token) })).status;

  it.each(ROLES)('a %s signs out: 204, then every request with that token is 401 revoked, the revocation listed as its own', async (role) => {
    const signingOut = await issue(`leaving-${role}`, role);
    const sameHolder = await issue(`leaving-${role}`, role);

    const response = await fetch(`${svc.url}/v1/session`, { method: 'DELETE', headers: bearer(signingOut.token) });
    expect(response.status).toBe(204);

    const after = await fetch(`${svc.url}/v1/session`, { method: 'DELETE', headers: bearer(signingOut.token) });
    expect(after.status).toBe(401);
    expect(await after.json()).toMatchObject({ reason: 'revoked' });

    const listed = await fetch(`${svc.url}/v1/tokens?includeExpired=true&limit=1000`, { headers: bearer(svc.tokens.admin) });
    const { tokens } = (await listed.json()) as { tokens: { tokenId: string; state: string; revokedBy?: string }[] };
    expect(tokens.find((t) => t.tokenId === signingOut.tokenId)).toMatchObject({ state: 'revoked', revokedBy: `leaving-${role}` });
    // The holder's other token, and the service's shared ones, still work.
    expect(tokens.find((t) => t.tokenId === sameHolder.tokenId)).toMatchObject({ state: 'active' });
    expect((await fetch(`${svc.url}/v1/entities/counts`, { headers: bearer(svc.tokens.auditor) })).status).toBe(200);
  });

  it('refuses a call without a token (401) and revokes nothing', async () => {
    const before = (await (await fetch(`${svc.url}/v1/tokens?limit=1000`, { headers: bearer(svc.tokens.admin) })).json()) as { tokens: { state: string }[] };
    const response = await fetch(`${svc.url}/v1/session`, { method: 'DELETE' });
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    const after = (await (await fetch(`${svc.url}/v1/tokens?limit=1000`, { headers: bearer(svc.tokens.admin) })).json()) as { tokens: { state: string }[] };
    expect(after.tokens.filter((t) => t.state === 'revoked').length).toBe(before.tokens.filter((t) => t.state === 'revoked').length);
  });

  it('ends an event stream the signed-out token holds, at once', async () => {
    const holder = await issue('leaving-with-a-stream', 'integrator');
    const stream = await openStream(svc.url, holder.token, '/v1/events?from=end');
    try {
      expect(stream.status).toBe(200);
      expect(await signOutStatus(holder.token)).toBe(204);
      await stream.ended;
      const last = stream.frames.at(-1);
      expect(last).toMatchObject({ kind: 'event', event: 'dropped' });
    } finally {
      stream.close();
    }
  });
});
