/**
 * Review 152: one id of the domain's longest legal length (128 characters) pushed "Recently revoked" off a 1366×768
 * screen (the document 2767 px wide, the section starting at x=1402) and cut off an entity page's dependency graph:
 * the grid's `1fr` columns kept the width of their longest unbreakable word. Each page must fit the viewport; review
 * 181 found Live events 1503 px wide, its Stream cell not wrapping the id.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { postCommand } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';
import { issueCredentialData, profile } from './support/fleet.ts';

const POLL = { timeout: 20_000, interval: 100 };
const DAY = 86_400_000;
/** 128 characters, the most an id may have (domain/ids.ts), with no place a line may break. */
const NODE = `meter-${'n'.repeat(122)}`;
const REVOKED = `revoked-${'r'.repeat(120)}`;
const EXPIRING = `expiring-${'e'.repeat(119)}`;

/** The document's width and the viewport's, read in the page (a string: the tests' types have no DOM). */
const widths = (page: Page): Promise<{ scroll: number; viewport: number }> =>
  page.evaluate('({ scroll: document.documentElement.scrollWidth, viewport: window.innerWidth })');

describe.skipIf(!hasChromium())('the console at 1366×768 with ids of 128 characters', () => {
  const world = useConsoleWorld(async (svc) => {
    const validity = { notBefore: new Date().toISOString(), notAfter: new Date(Date.now() + 20 * DAY).toISOString() };
    await postCommand(svc, 'registerNode', { nodeId: NODE, profile });
    await postCommand(svc, 'issueCredential', issueCredentialData(EXPIRING, NODE, validity));
    await postCommand(svc, 'issueCredential', issueCredentialData(REVOKED, NODE, validity));
    await postCommand(svc, 'revokeCredential', { credentialId: REVOKED, reason: 'keyCompromise' });
  });

  it('keeps the overview, the entity page and the live events within the viewport', async () => {
    expect([NODE, REVOKED, EXPIRING].map((id) => id.length)).toEqual([128, 128, 128]);
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens.auditor, '#/overview');
      const revoked = page.locator('section[aria-labelledby="revoked-heading"]');
      await expect.poll(() => revoked.locator('tbody td:first-child').first().textContent(), POLL).toBe(`credential-${REVOKED}`);
      await page.locator('section[aria-labelledby="expiring-heading"] tbody td').first().waitFor();
      const overview = await widths(page);
      expect(overview.scroll).toBeLessThanOrEqual(overview.viewport);
      expect((await revoked.boundingBox())!.x + (await revoked.boundingBox())!.width).toBeLessThanOrEqual(overview.viewport);

      await page.goto(`${world.svc.url}/#/entity/node/${NODE}`);
      const graph = page.getByTestId('graph');
      await expect.poll(() => graph.locator('a').count(), POLL).toBeGreaterThanOrEqual(3);
      await page.locator('section[aria-labelledby="timeline-heading"] tbody tr').first().waitFor();
      const entity = await widths(page);
      expect(entity.scroll).toBeLessThanOrEqual(entity.viewport);
      const box = (await graph.boundingBox())!;
      expect(box.x + box.width).toBeLessThanOrEqual(entity.viewport);

      // Review 181: the Stream cell of Live events kept the id's width (the document 1503 px wide at 1366).
      await page.goto(`${world.svc.url}/#/feed`);
      await page.getByLabel('Replay the history first').check();
      const feed = page.getByTestId('feed');
      await expect.poll(() => feed.getByRole('link', { name: `node-${NODE}` }).count(), POLL).toBeGreaterThanOrEqual(1);
      const live = await widths(page);
      expect(live.scroll).toBeLessThanOrEqual(live.viewport);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
