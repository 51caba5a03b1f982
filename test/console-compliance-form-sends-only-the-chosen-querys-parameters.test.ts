/**
 * Review 130, finding 1: the compliance form's parameter fields were reused by position when another query was
 * chosen, with the values typed for the first one. `from=2000-01-01` typed under revocations was sent as expiring's
 * `now`, and "No rows" read as an all-clear; `reason` and `order` became actions' `actor` and `limit`. The fields are
 * made anew for each query, and the result names the parameters the server was asked with (its echo).
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { seedConsoleFleet } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';

const POLL = { timeout: 30_000, interval: 100 };

/** The path and query of the compliance request the Run query button sends. */
const runQuery = async (page: Page): Promise<string> => {
  const [request] = await Promise.all([
    page.waitForRequest((r) => new URL(r.url()).pathname.startsWith('/v1/compliance/')),
    page.getByRole('button', { name: 'Run query' }).click(),
  ]);
  const url = new URL(request.url());
  return `${url.pathname}${url.search}`;
};

describe.skipIf(!hasChromium())('the compliance form of the console', () => {
  const world = useConsoleWorld(seedConsoleFleet);

  it("sends only the values typed for the query chosen, and says what the server was asked", async () => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens.auditor, '#/compliance');
      await page.getByLabel('Query').selectOption('revocations');
      await page.getByLabel('from').fill('2000-01-01');
      await page.getByLabel('order').fill('newest');

      // Given values typed for revocations, when expiring is chosen, then its fields start empty.
      await page.getByLabel('Query').selectOption('expiring');
      expect(await page.getByLabel('now').inputValue()).toBe('');
      await page.getByLabel('days').fill('30');
      expect(await runQuery(page)).toBe('/v1/compliance/expiring?days=30');
      await expect.poll(() => page.getByTestId('rows').textContent(), POLL).toContain('meter-2-service');
      expect(await page.getByTestId('result-params').textContent()).toBe('Asked with days=30.');

      // Nor does revocations' reason become actions' actor.
      await page.getByLabel('Query').selectOption('revocations');
      await page.getByLabel('reason').fill('keyCompromise');
      await page.getByLabel('Query').selectOption('actions');
      expect(await page.getByLabel('actor').inputValue()).toBe('');
      expect(await page.getByLabel('limit').inputValue()).toBe('');

      await page.getByLabel('Query').selectOption('dangling-associations');
      expect(await runQuery(page)).toBe('/v1/compliance/dangling-associations');
      await expect.poll(() => page.getByTestId('result-params').textContent(), POLL).toBe("Asked with no parameters (the query's defaults).");
    } finally {
      await context.close();
    }
  });
});
