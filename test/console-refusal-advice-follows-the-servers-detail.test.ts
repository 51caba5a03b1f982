/**
 * Review 130, finding 5: on a pseudonym's page an auditor's 403 said "Sign in with a token of a role that may read
 * it", while the server's detail said the auditor must record a resolution first; the auditor's is the role that may.
 * Advice to use another role follows only a refusal of the role (the access hook's `forbidden`); any other refusal
 * is said in the server's words alone.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { postCommand } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';
import { profile } from './support/fleet.ts';

const POLL = { timeout: 30_000, interval: 100 };

describe.skipIf(!hasChromium())("the console's refusal of a page", () => {
  const world = useConsoleWorld(async (svc) => {
    await postCommand(svc, 'registerNode', { nodeId: 'meter-1', profile });
  });

  const refusalOn = async (role: 'auditor' | 'integrator', hash: string, check: (page: Page) => Promise<void>): Promise<void> => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens[role], hash);
      await expect.poll(() => page.locator('.refused').count(), POLL).toBeGreaterThan(0);
      await check(page);
    } finally {
      await context.close();
    }
  };

  it("says what a pseudonym's history takes, in the server's words, and not to sign in as another role", async () => {
    // Read from the store: the listing shows an auditor only the pseudonyms it resolved (review 281).
    let pseudonym = '';
    for await (const e of world.svc.service.context.credence.store.readAll()) if (e.type === 'PseudonymRotated') pseudonym = String(e.data['pseudonym']);
    expect(pseudonym).not.toBe('');
    await refusalOn('auditor', `#/entity/pseudonym/${pseudonym}`, async (page) => {
      const said = (await page.locator('.refused').first().textContent()) ?? '';
      expect(said).toContain('an auditor resolves it first (POST /v1/pseudonyms/resolutions, recorded)');
      expect(said).not.toContain('Sign in with a token of a role');
      expect(said).not.toContain('Not available to your role');
    });
  });

  it("advises another role's token when the route refuses the role", async () => {
    await refusalOn('integrator', '#/compliance', async (page) => {
      const said = (await page.locator('.refused').first().textContent()) ?? '';
      expect(said).toContain('Not available to your role');
      expect(said).toContain('role integrator may not call this route');
      expect(said).toContain('Sign in with a token of a role that may read it');
    });
  });
});
