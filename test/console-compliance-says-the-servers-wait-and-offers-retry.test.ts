/**
 * Review 223, finding 2: a compliance query, or its CSV, that the server shed (429), could not serve (503) or gave up
 * on (408) showed the problem but not the wait its `Retry-After` asked for, and offered no way to try again but
 * running the form anew. Both now say the wait and offer **Retry**, as the entity, verify and overview pages do.
 */
import type { Page, Route } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { seedConsoleFleet } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';

const POLL = { timeout: 30_000, interval: 100 };
const QUERY = /\/v1\/compliance\/dangling-associations(\?.*)?$/;

const shed = (route: Route, status: number, seconds: number) =>
  route.fulfill({
    status,
    headers: { 'content-type': 'application/problem+json', 'retry-after': String(seconds) },
    body: JSON.stringify({ type: 'about:blank', title: status === 429 ? 'Too Many Requests' : 'Service Unavailable', status, detail: 'try again later' }),
  });

const alerts = (page: Page) => async (): Promise<string> => (await page.locator('[role="alert"]').allTextContents()).join(' ').replace(/\s+/g, ' ');

describe.skipIf(!hasChromium())('the compliance page after a 429 or 503', () => {
  const world = useConsoleWorld(seedConsoleFleet);

  it('says the wait the server asked for a query, and Retry runs the same query again', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      const asked: string[] = [];
      await page.route(QUERY, async (route) => {
        asked.push(new URL(route.request().url()).pathname);
        return asked.length === 1 ? shed(route, 429, 9) : route.continue();
      });
      await signIn(page, world.svc.tokens.auditor, '#/compliance');
      await page.getByLabel('Query').selectOption('dangling-associations');
      await page.getByRole('button', { name: 'Run query' }).click();
      await expect.poll(alerts(page), POLL).toContain('The server asks to wait 9 s before trying again.');
      await page.getByRole('button', { name: 'Retry' }).click();
      await expect.poll(() => page.locator('#result-heading').textContent(), POLL).toBe('Result of dangling-associations');
      expect(asked).toEqual(['/v1/compliance/dangling-associations', '/v1/compliance/dangling-associations']);
      expect(await page.getByRole('button', { name: 'Retry' }).count()).toBe(0);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("says the wait the server asked for the CSV, and Retry downloads it", async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      let csvAsked = 0;
      await page.route(QUERY, async (route) => {
        if (!(route.request().headers()['accept'] ?? '').includes('text/csv')) return route.continue();
        csvAsked++;
        return csvAsked === 1 ? shed(route, 503, 9) : route.continue();
      });
      await signIn(page, world.svc.tokens.auditor, '#/compliance');
      await page.getByLabel('Query').selectOption('dangling-associations');
      await page.getByRole('button', { name: 'Run query' }).click();
      await page.getByRole('button', { name: 'Download CSV' }).click();
      await expect.poll(alerts(page), POLL).toContain('Could not download the CSV: Service Unavailable: try again later');
      expect(await alerts(page)()).toContain('The server asks to wait 9 s before trying again.');
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Retry' }).click()]);
      expect(download.suggestedFilename()).toMatch(/^credence-dangling-associations.*\.csv$/);
      await expect.poll(() => page.getByRole('button', { name: 'Retry' }).count(), POLL).toBe(0);
      expect(csvAsked).toBe(2);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
