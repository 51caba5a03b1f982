/**
 * Review 300: the entity list's page was not in the address, so a reload, Back or a shared link landed on page 1. The
 * page's cursors (opaque, no token) are now kept in the hash and read from it; a cursor the server refuses gives page 1,
 * with the refusal shown.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { settled } from './http-sse.fixtures.ts';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { postCommand } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';
import { profile } from './support/fleet.ts';

const POLL = { timeout: 20_000, interval: 100 };
/** One more than a page of the list (BROWSE_PAGE in entity-list-browse.ts). */
const NODES = 51;
const firstRow = (page: Page) => page.locator('table tbody tr td:first-child').first().textContent();
const hash = (page: Page) => page.evaluate<string>('location.hash');

describe.skipIf(!hasChromium())('the page of the entity list in the address', () => {
  const world = useConsoleWorld(async (svc) => {
    for (let i = 0; i < NODES; i++) await postCommand(svc, 'registerNode', { nodeId: `meter-${String(i).padStart(2, '0')}`, profile });
    await settled(svc);
  });

  it('comes back to the page after a reload and a shared link, and Back goes to the page before', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens.auditor, '#/entity/node');
      await expect.poll(() => firstRow(page), POLL).toBe('node-meter-00');
      await page.getByRole('button', { name: 'Next page' }).click();
      await expect.poll(() => firstRow(page), POLL).toBe('node-meter-50');
      await expect.poll(() => hash(page), POLL).toMatch(/^#\/entity\/node\?pages=[A-Za-z0-9_-]+$/);
      const shared = await hash(page);
      expect(shared).not.toContain(world.svc.tokens.auditor);

      await page.reload();
      await expect.poll(() => firstRow(page), POLL).toBe('node-meter-50');
      expect(await page.getByRole('button', { name: 'Previous page' }).isEnabled()).toBe(true);

      await page.goBack();
      await expect.poll(() => hash(page), POLL).toBe('#/entity/node');
      await expect.poll(() => firstRow(page), POLL).toBe('node-meter-00');

      // The shared link, in a tab of its own.
      const other = await context.newPage();
      await signIn(other, world.svc.tokens.auditor, shared);
      await expect.poll(() => firstRow(other), POLL).toBe('node-meter-50');
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('shows page 1 with the refusal when the server refuses the cursor in the address', async () => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens.auditor, '#/entity/node?pages=bm90LWEtY3Vyc29y');
      await expect.poll(() => firstRow(page), POLL).toBe('node-meter-00');
      await expect.poll(() => page.getByTestId('list-cursor-refused').count(), POLL).toBe(1);
      expect(await page.getByTestId('list-cursor-refused').textContent()).toContain('not a cursor this API returned');
      await expect.poll(() => hash(page), POLL).toBe('#/entity/node');
    } finally {
      await context.close();
    }
  });
});
