/**
 * Review 192, finding 4: the entity timeline did not show the API token a recorded command came with, which the
 * server's timeline entry carries since review 188 (`token: { id, issuedBy }`: an admin may issue a token under any
 * subject, so the actor alone does not tell who held it). The console parses it, as it parses every answer, and shows
 * it in a "Token (issued by)" cell; an event without one (an engine's command, or one recorded before) leaves it empty.
 */
import { describe, expect, it } from 'vitest';
import { settled } from './http-sse.fixtures.ts';
import { hasChromium, openConsole, signIn, timelineColumn } from './support/console-browser.ts';
import { postCommand } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';
import { cmd, profile } from './support/fleet.ts';
import type { TestService } from './support/service.ts';

const POLL = { timeout: 30_000, interval: 100 };

/** n-http registered through the API with the operator's token; n-engine by the engine, with none. */
const seed = async (svc: TestService): Promise<void> => {
  await postCommand(svc, 'registerNode', { nodeId: 'n-http', profile });
  await svc.service.context.credence.engine.execute(cmd.registerNode('n-engine'));
  await settled(svc);
};

describe.skipIf(!hasChromium())('the console timeline', () => {
  const world = useConsoleWorld(seed);

  it('shows the token id and its issuer of a command sent with a token, and nothing for one sent without', async () => {
    const answer = await fetch(`${world.svc.url}/v1/entities/node/n-http/timeline`, { headers: { authorization: `Bearer ${world.svc.tokens.auditor}` } });
    const recorded = ((await answer.json()) as { entries: { token?: { id: string; issuedBy: string } }[] }).entries[0]!.token!;
    expect(recorded.id).toMatch(/^tok_[A-Za-z0-9_-]{22}$/);
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens.auditor, '#/entity/node/n-http');
      await expect.poll(() => timelineColumn(page, 'Token (issued by)'), POLL).toEqual([`${recorded.id} (${recorded.issuedBy})`]);
      expect(recorded.issuedBy).toBe('test');

      await page.goto('/#/entity/node/n-engine');
      await expect.poll(() => page.locator('table.timeline tbody tr').count(), POLL).toBe(1);
      expect(await timelineColumn(page, 'Token (issued by)')).toEqual(['']);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
