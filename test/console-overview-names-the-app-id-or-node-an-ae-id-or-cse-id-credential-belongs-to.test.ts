/**
 * Review 155 made `expiring` rows name the App-ID of an AE-ID credential and the node of a CSE-ID one (one AE-ID may
 * serve two App-IDs); the console's overview dropped both and showed `ae:Cx` alike for each. It now names and links
 * them.
 */
import { describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { useConsoleWorld } from './support/console-world.ts';
import { cmd, operator } from './support/fleet.ts';

const POLL = { timeout: 20_000, interval: 100 };
/** Days from now: the browser judges the sign-in token by its own clock, so the service runs on the real one. */
const inDays = (days: number): string => new Date(Date.now() + days * 86_400_000).toISOString();

describe.skipIf(!hasChromium())('the overview\'s expiring list', () => {
  const world = useConsoleWorld(async (svc) => {
    const { engine } = svc.service.context.credence;
    for (const c of [cmd.createSubscription('sub-1', inDays(365)), cmd.registerNode(), cmd.enrolNode()]) await engine.execute(c);
    await engine.execute(command('registerApplication', { appId: 'RA', name: 'RA', provider: 'City Utilities' }, { actor: operator }));
    await engine.execute(cmd.issueCredential('RA-cred', 'RA', inDays(300), { purpose: 'application', owner: { kind: 'app', id: 'RA' } }));
    await engine.execute(cmd.provisionCredential('RA-cred'));
    await engine.execute(command('enrolApplication', { appId: 'RA', credentialId: 'RA-cred' }, { actor: operator }));
    await engine.execute(cmd.issueCredential('ra-ae', 'meter-1', inDays(10), { owner: { kind: 'ae', id: 'Cx', appId: 'RA' } }));
    await engine.execute(cmd.issueCredential('cse-1', 'meter-1', inDays(12), { owner: { kind: 'cse', id: '/cse-meter-1', nodeId: 'meter-1' } }));
    await svc.service.context.credence.settle();
  });

  it('names the App-ID of an AE-ID credential and the node of a CSE-ID one, each linked', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens.auditor, '#/overview');
      const expiring = page.locator('section[aria-labelledby="expiring-heading"]');
      await expect.poll(() => expiring.textContent(), POLL).toContain('ae:Cx (App-ID RA)');
      expect(await expiring.textContent()).toContain('cse:/cse-meter-1 (node meter-1)');
      expect(await expiring.getByRole('link', { name: 'RA', exact: true }).getAttribute('href')).toBe('#/entity/application/RA');
      expect(await expiring.getByRole('link', { name: 'meter-1', exact: true }).getAttribute('href')).toBe('#/entity/node/meter-1');
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
