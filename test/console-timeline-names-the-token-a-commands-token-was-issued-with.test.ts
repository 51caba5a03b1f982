/**
 * Review 196, finding 2: a timeline entry's token names the token it was issued with (`token.issuedWith`), which tells
 * a token the real admin issued from one an admin token under the same subject did. The console's "Token (issued by)"
 * cell shows it after the issuer: `tok_… (test-admin, with tok_…)`.
 */
import { describe, expect, it } from 'vitest';
import { settled } from './http-sse.fixtures.ts';
import { hasChromium, openConsole, signIn, timelineColumn } from './support/console-browser.ts';
import { useConsoleWorld } from './support/console-world.ts';
import { profile } from './support/fleet.ts';
import type { TestService } from './support/service.ts';

const POLL = { timeout: 30_000, interval: 100 };

const issued = { operator: '', issuer: '' };

/** n-issued registered with an operator token the admin issued through the service. */
const seed = async (svc: TestService): Promise<void> => {
  const reply = await fetch(`${svc.url}/v1/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${svc.tokens.admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ subject: 'test-operator', role: 'operator', ttl: '1h' }),
  });
  const { token, tokenId } = (await reply.json()) as { token: string; tokenId: string };
  issued.operator = tokenId;
  const sent = await fetch(`${svc.url}/v1/commands`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'registerNode', data: { nodeId: 'n-issued', profile } }),
  });
  if (!sent.ok) throw new Error(`registerNode refused: ${sent.status}`);
  await settled(svc);
};

describe.skipIf(!hasChromium())('the console timeline', () => {
  const world = useConsoleWorld(seed);

  it('names the token a command came with, its issuer and the token it was issued with', async () => {
    const answer = await fetch(`${world.svc.url}/v1/entities/node/n-issued/timeline`, { headers: { authorization: `Bearer ${world.svc.tokens.auditor}` } });
    const recorded = ((await answer.json()) as { entries: { token?: { id: string; issuedBy: string; issuedWith?: string } }[] }).entries[0]!.token!;
    expect(recorded.id).toBe(issued.operator);
    expect(recorded.issuedWith).toMatch(/^tok_[A-Za-z0-9_-]{22}$/);
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens.auditor, '#/entity/node/n-issued');
      await expect.poll(() => timelineColumn(page, 'Token (issued by)'), POLL).toEqual([`${recorded.id} (test-admin, with ${recorded.issuedWith})`]);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
