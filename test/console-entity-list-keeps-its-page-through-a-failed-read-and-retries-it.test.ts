/**
 * Review 248: the list of entities put the error in place of the table and its pager when a read failed, with no
 * Retry: a 429 (Retry-After: 30) on Next page, or a failed read again of a page from a read model behind the store,
 * left reloading at page 1 as the only way back, and the "may miss the latest changes" warning went with it. Now the
 * page shown stays, marked as last read and why, the read is tried again after the server's wait or the backoff, and
 * Retry (the same cursors) says the wait.
 */
import type { Page, Route } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { settled } from './http-sse.fixtures.ts';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { postCommand } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';
import { profile } from './support/fleet.ts';

const POLL = { timeout: 20_000, interval: 100 };
/** One more than a page of the list (BROWSE_PAGE in entity-list-browse.ts). */
const NODES = 51;

const problem = (status: number, title: string, retryAfter: string) => ({
  status,
  headers: { 'content-type': 'application/problem+json', 'retry-after': retryAfter },
  body: JSON.stringify({ type: 'about:blank', title, status, detail: 'try again later' }),
});

/**
 * The list's first page: first read with `credence-events-behind: 3`, read again into a 503 (Retry-After: 30), then the
 * server's. The next page: a 429 (Retry-After: 30) first, then the server's.
 */
const routeList = async (page: Page): Promise<void> => {
  let firstPage = 0;
  let nextPage = 0;
  await page.route(
    (url) => url.pathname === '/v1/entities',
    async (route: Route) => {
      const paged = new URL(route.request().url()).searchParams.has('cursor');
      if (paged) {
        nextPage += 1;
        return nextPage === 1 ? route.fulfill(problem(429, 'Too Many Requests', '30')) : route.continue();
      }
      firstPage += 1;
      if (firstPage === 1) {
        const response = await route.fetch();
        return route.fulfill({ response, headers: { ...response.headers(), 'credence-events-behind': '3' } });
      }
      return firstPage === 2 ? route.fulfill(problem(503, 'Service Unavailable', '30')) : route.continue();
    },
  );
};

const text = async (page: Page, testId: string): Promise<string> => ((await page.getByTestId(testId).textContent()) ?? '').replace(/\s+/g, ' ');
const firstRow = (page: Page) => page.locator('table tbody tr td:first-child').first().textContent();

describe.skipIf(!hasChromium())('the list of entities when a read fails', () => {
  const world = useConsoleWorld(async (svc) => {
    for (let i = 0; i < NODES; i++) await postCommand(svc, 'registerNode', { nodeId: `meter-${String(i).padStart(2, '0')}`, profile });
    await settled(svc);
  });

  it('keeps the page shown, marked, says the wait, reads again and pages on with Retry', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await routeList(page);
      await signIn(page, world.svc.tokens.auditor, '#/entity/node');
      await expect.poll(() => page.getByTestId('events-behind').count(), POLL).toBe(1);
      const first = await firstRow(page);
      // The read again meets a 503: the page stays, its warning too, and the page says why and the server's wait.
      await expect.poll(() => page.getByTestId('list-stale').count(), POLL).toBe(1);
      expect(await text(page, 'list-stale')).toContain('Service Unavailable: try again later');
      expect(await text(page, 'list-stale')).toContain('shown as last read');
      expect(await text(page, 'list-stale')).toContain('The server asks to wait 30 s before trying again.');
      expect(await page.getByTestId('events-behind').count()).toBe(1);
      expect(await firstRow(page)).toBe(first);
      expect(await page.getByRole('button', { name: 'Next page' }).isEnabled()).toBe(true);
      await page.getByTestId('list-stale').getByRole('button', { name: 'Retry' }).click();
      await expect.poll(() => page.getByTestId('events-behind').count(), POLL).toBe(0);
      expect(await page.getByTestId('list-stale').count()).toBe(0);

      // Next page meets a 429: page 1 stays with its pager, and Retry asks for the same next page.
      await page.getByRole('button', { name: 'Next page' }).click();
      await expect.poll(() => page.getByTestId('list-stale').count(), POLL).toBe(1);
      expect(await text(page, 'list-stale')).toContain('Too Many Requests: try again later');
      expect(await text(page, 'list-stale')).toContain('The server asks to wait 30 s before trying again.');
      expect(await firstRow(page)).toBe(first);
      expect(await page.getByRole('button', { name: 'Previous page' }).isDisabled()).toBe(true);
      await page.getByTestId('list-stale').getByRole('button', { name: 'Retry' }).click();
      await expect.poll(() => page.getByRole('button', { name: 'Previous page' }).isEnabled(), POLL).toBe(true);
      expect(await page.getByTestId('list-stale').count()).toBe(0);
      expect(await firstRow(page)).not.toBe(first);
      expect(await page.locator('table tbody tr').count()).toBe(NODES - 50);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
