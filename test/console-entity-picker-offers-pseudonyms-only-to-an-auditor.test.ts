/**
 * The entity picker offered the `pseudonym` kind to every role, while the service lists pseudonyms only to an auditor
 * (adapters/http/routes/entities.ts refusePseudonymListing) and opens one only for an auditor who resolved it: an
 * operator or an admin picked it and met the server's 403. The picker now offers it to an auditor alone; an address
 * naming the kind still shows the server's refusal, and the picker names the kind of the page it is on.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { postCommand } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';
import { profile } from './support/fleet.ts';

const POLL = { timeout: 30_000, interval: 100 };

describe.skipIf(!hasChromium())("the console's entity picker", () => {
  const world = useConsoleWorld(async (svc) => {
    await postCommand(svc, 'registerNode', { nodeId: 'meter-1', profile });
  });

  const onPage = async (role: 'admin' | 'operator' | 'auditor', hash: string, check: (page: Page) => Promise<void>): Promise<void> => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens[role], hash);
      await expect.poll(() => page.locator('#entity-kind option').count(), POLL).toBeGreaterThan(0);
      await check(page);
    } finally {
      await context.close();
    }
  };
  // Each option's text is its value (entity-picker.ts).
  const kindsOffered = (page: Page): Promise<string[]> => page.locator('#entity-kind option').allTextContents();

  it('offers an operator and an admin every kind but pseudonym', async () => {
    for (const role of ['operator', 'admin'] as const) {
      await onPage(role, '#/entity/node/meter-1', async (page) => {
        await expect.poll(() => page.getByTestId('state-at').textContent(), POLL).toBe('initialized');
        const kinds = await kindsOffered(page);
        expect(kinds).toContain('node');
        expect(kinds).not.toContain('pseudonym');
      });
    }
  });

  it('offers an auditor pseudonym too', async () => {
    await onPage('auditor', '#/entity/node/meter-1', async (page) => {
      expect(await kindsOffered(page)).toContain('pseudonym');
    });
  });

  it("shows an operator who reaches the pseudonyms' address the server's refusal, under the kind the page is on", async () => {
    await onPage('operator', '#/entity/pseudonym', async (page) => {
      await expect.poll(() => page.locator('.refused').first().textContent(), POLL).toContain('403');
      expect(await page.locator('.refused').first().textContent()).toContain('the list of pseudonyms is for an auditor');
      expect(await page.locator('#entity-kind').inputValue()).toBe('pseudonym');
    });
  });
});
