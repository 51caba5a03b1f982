/**
 * Review 152: one 503 (or 429) answered to a live refresh of the overview put the error in place of the counts, and
 * nothing read them again (a quiet fleet sends no further event). The last good answer now stays, marked as read
 * before; the page reads again after the server's Retry-After or its backoff, and offers Refresh now.
 */
import type { Page, Route } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { postCommand } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';
import { profile } from './support/fleet.ts';

const POLL = { timeout: 20_000, interval: 100 };

/** The next read of the counts answered `status` with a problem and `retryAfter`; those after it reach the server. */
const failNextCounts = async (page: Page, status: number, title: string, retryAfter: string): Promise<void> => {
  let failed = false;
  await page.route(
    (url) => url.pathname === '/v1/entities/counts',
    (route: Route) => {
      if (failed) return route.continue();
      failed = true;
      return route.fulfill({
        status,
        headers: { 'content-type': 'application/problem+json', 'retry-after': retryAfter },
        body: JSON.stringify({ type: 'https://credence.dev/problems/unavailable', title, status, detail: 'the service is restarting' }),
      });
    },
  );
};

describe.skipIf(!hasChromium())('the overview when a refresh fails', () => {
  const world = useConsoleWorld(async (svc) => {
    await postCommand(svc, 'registerNode', { nodeId: 'meter-1', profile });
  });

  it('keeps the counts marked as read before, reads again after the wait, and offers Refresh now', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens.auditor, '#/overview');
      await page.locator('.live[data-state="live"]').waitFor(POLL);
      await expect.poll(() => page.getByTestId('total-node').textContent(), POLL).toBe('1');

      // A live refresh meets a 503: the count read before stays, said to be as last read.
      await failNextCounts(page, 503, 'Service Unavailable', '1');
      await postCommand(world.svc, 'registerNode', { nodeId: 'meter-2', profile });
      await expect.poll(() => page.getByTestId('stale-fleet').count(), POLL).toBe(1);
      expect(await page.getByTestId('stale-fleet').textContent()).toContain('Could not refresh the fleet counts (Service Unavailable: the service is restarting): shown as last read.');
      expect(await page.getByTestId('total-node').textContent()).toBe('1');
      expect(await page.getByTestId('refresh-failed').getByRole('button', { name: 'Refresh now' }).count()).toBe(1);
      // ... and is read again without another event.
      await expect.poll(() => page.getByTestId('total-node').textContent(), POLL).toBe('2');
      await expect.poll(() => page.getByTestId('stale-fleet').count(), POLL).toBe(0);
      expect(await page.getByTestId('refresh-failed').count()).toBe(0);
      await page.unrouteAll();

      // A 429 asking for 50 s: the page says when it reads again, and Refresh now reads at once.
      await failNextCounts(page, 429, 'Too Many Requests', '50');
      await postCommand(world.svc, 'registerNode', { nodeId: 'meter-3', profile });
      await expect.poll(() => page.getByTestId('refresh-failed').textContent(), POLL).toContain('A read failed: the page reads again in 50 s.');
      expect(await page.getByTestId('total-node').textContent()).toBe('2');
      expect(await page.getByTestId('refresh-failed').getAttribute('role')).toBe('status');
      await page.getByTestId('refresh-failed').getByRole('button', { name: 'Refresh now' }).focus();
      await page.keyboard.press('Enter');
      await expect.poll(() => page.getByTestId('total-node').textContent(), POLL).toBe('3');
      await expect.poll(() => page.getByTestId('refresh-failed').count(), POLL).toBe(0);
      // Review 157: the button goes with the failure; the keyboard's focus goes to the page's heading, not the body.
      await expect.poll(() => page.evaluate('document.activeElement && document.activeElement.tagName'), POLL).toBe('H2');
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
