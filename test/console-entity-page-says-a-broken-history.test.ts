/**
 * Review 237: GET /v1/entities/{kind}/{id} answered an entity whose stream its machine refuses with a 500 (its own
 * rules) or as sound (a rule reading another entity); it now answers the entity as applied with `broken`. The entity
 * page says so beside the state, with the refused event's position and the reason as visible text, so that a forged
 * history never reads as a normal entity there.
 */
import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../domain/ports/event-store.ts';
import { settled } from './http-sse.fixtures.ts';
import { forge } from './replay.fixtures.ts';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { postCommand } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';
import { issueCredentialData, profile } from './support/fleet.ts';

const POLL = { timeout: 20_000, interval: 100 };
const day = 24 * 3600 * 1000;

describe.skipIf(!hasChromium())('the entity page of an entity whose history is broken', () => {
  const world = useConsoleWorld(async (svc) => {
    await postCommand(svc, 'registerNode', { nodeId: 'meter-1', profile });
    await settled(svc);
    const validity = { notBefore: new Date(Date.now() - day).toISOString(), notAfter: new Date(Date.now() + 90 * day).toISOString() };
    // Issued twice around the engine: its machine refuses the second.
    for (let i = 0; i < 2; i++) {
      await forge(svc.service.context.credence.store, 'credential-forged-2', 'CredentialIssued', issueCredentialData('forged-2', 'meter-1', validity) as unknown as JsonObject, new Date().toISOString());
    }
    await settled(svc);
  });

  it('says the history is broken, where and why, beside the state as applied', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens.auditor, '#/entity/credential/forged-2');
      await expect.poll(() => page.getByTestId('entity-broken').count(), POLL).toBe(1);
      const said = (await page.getByTestId('entity-broken').textContent()) ?? '';
      expect(said).toMatch(/^Broken history: its machine refuses the stored event at position \d+ \(/);
      expect(await page.locator('.entity-head').textContent()).toContain('Now');
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('says nothing of the kind for a sound entity', async () => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens.auditor, '#/entity/node/meter-1');
      await expect.poll(() => page.locator('.entity-head').count(), POLL).toBe(1);
      expect(await page.getByTestId('entity-broken').count()).toBe(0);
    } finally {
      await context.close();
    }
  });
});
