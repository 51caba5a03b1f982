/**
 * Review 300: "Replay the history first" on Live events kept the newest 200 rows and dropped the older ones without a
 * word. The page now says, once it has dropped any, that only the newest 200 are shown and where the whole history is.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { useConsoleWorld } from './support/console-world.ts';

const POLL = { timeout: 20_000, interval: 100 };
const KEEP = 200;

/** `count` canonical frames, positions 1 to `count`, as the server writes them. */
const frames = (count: number): string =>
  Array.from({ length: count }, (_, i) => {
    const position = String(i + 1);
    const data = { position, streamId: `node-m${position}`, revision: '0', type: 'NodeRegistered', metadata: { occurredAt: new Date().toISOString(), actor: { id: 'op', role: 'operator' } } };
    return `id: ${position}~0000abcd\nevent: NodeRegistered\ndata: ${JSON.stringify(data)}\n\n`;
  }).join('');

const routeHistory = async (page: Page, count: number): Promise<void> => {
  await page.route(
    (url) => url.pathname === '/v1/events',
    (route) => {
      const url = new URL(route.request().url());
      // The history once; a reconnect after it is left unanswered, as a stream with nothing new says nothing.
      if (url.searchParams.get('from') !== 'start' || route.request().headers()['last-event-id'] !== undefined) return;
      return route.fulfill({ status: 200, headers: { 'content-type': 'text/event-stream' }, body: `retry: 60000\n\n${frames(count)}` });
    },
  );
};

const notice = (page: Page) => page.getByTestId('feed-capped');

describe.skipIf(!hasChromium())('Live events past the rows it keeps', () => {
  const world = useConsoleWorld();

  it('says only the newest 200 are shown and where the full history is, and says nothing while all are shown', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await routeHistory(page, KEEP + 50);
      await signIn(page, world.svc.tokens.auditor, '#/feed');
      await page.getByLabel('Replay the history first').check();
      await expect.poll(() => page.locator('[data-testid="feed"] tbody tr').count(), POLL).toBe(KEEP);
      await expect.poll(() => notice(page).count(), POLL).toBe(1);
      const text = ((await notice(page).textContent()) ?? '').replace(/\s+/g, ' ');
      expect(text).toContain('Only the newest 200 events are shown');
      expect(text).toContain('credence events');
      expect(await notice(page).getByRole('link', { name: 'Compliance queries' }).getAttribute('href')).toBe('#/compliance');
      expect(await page.locator('[data-testid="feed"] tbody tr td:first-child').first().textContent()).toBe(String(KEEP + 50));
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
    const few = await openConsole(world.browser, world.svc.url);
    try {
      await routeHistory(few.page, KEEP);
      await signIn(few.page, world.svc.tokens.auditor, '#/feed');
      await few.page.getByLabel('Replay the history first').check();
      await expect.poll(() => few.page.locator('[data-testid="feed"] tbody tr').count(), POLL).toBe(KEEP);
      expect(await notice(few.page).count()).toBe(0);
    } finally {
      await few.context.close();
    }
  });
});
