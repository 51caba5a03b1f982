/**
 * Review 300: paging the entity list with the keyboard lost focus: Previous/Next were `disabled` while a page was read,
 * and a focused button that becomes disabled drops focus to <body>. "Load more events" did the same while it read, and
 * was removed after the last page with focus in it. Now the pager's buttons are aria-disabled (clicks ignored) while a
 * page is read, and after the timeline's last page focus goes to the line that says how many events are shown.
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
const DAY = 86_400_000;
const iso = (offsetMs: number): string => new Date(Date.now() + offsetMs).toISOString();

/** What holds the keyboard's focus: a button's or an element's test id or text. */
const focused = (page: Page): Promise<string> =>
  page.evaluate<string>(
    "(() => { const a = document.activeElement; return a === null || a === document.body ? 'BODY' : (a.getAttribute('data-testid') ?? (a.textContent ?? '').trim()); })()",
  );
const firstRow = (page: Page) => page.locator('table tbody tr td:first-child').first().textContent();

/** Holds the requests `matches` picks until `release` is called; the others pass. */
const holding = async (page: Page, matches: (url: URL) => boolean): Promise<{ release: () => void; held: () => number }> => {
  const waiting: Route[] = [];
  let released = false;
  await page.route(
    (url) => url.pathname.startsWith('/v1/entities'),
    (route) => {
      if (released || !matches(new URL(route.request().url()))) return route.continue();
      waiting.push(route);
    },
  );
  return {
    release: () => {
      released = true;
      for (const route of waiting.splice(0)) void route.continue();
    },
    held: () => waiting.length,
  };
};

describe.skipIf(!hasChromium())('keyboard focus while pages are read', () => {
  const world = useConsoleWorld(async (svc) => {
    await postCommand(svc, 'createSubscription', { subscriptionId: 's1', subscriber: 'City Utilities', notBefore: iso(-DAY), notAfter: iso(365 * DAY) });
    for (let i = 0; i < NODES; i++) await postCommand(svc, 'registerNode', { nodeId: `meter-${String(i).padStart(2, '0')}`, profile });
    await postCommand(svc, 'enrolNode', { nodeId: 'meter-00', subscriptionId: 's1', cseId: '/cse-meter-00' });
    await settled(svc);
  });

  it('keeps focus on Next page while the next page is read, and after it', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens.auditor, '#/entity/node');
      await expect.poll(() => firstRow(page), POLL).toBe('node-meter-00');
      const hold = await holding(page, (url) => url.pathname === '/v1/entities' && url.searchParams.has('cursor'));
      await page.getByRole('button', { name: 'Next page' }).focus();
      await page.keyboard.press('Enter');
      await expect.poll(() => hold.held(), POLL).toBe(1);
      await expect.poll(() => page.getByRole('button', { name: 'Next page' }).getAttribute('aria-disabled'), POLL).toBe('true');
      expect(await focused(page)).toBe('Next page');
      // A click while the page is read asks for nothing more.
      await page.keyboard.press('Enter');
      hold.release();
      await expect.poll(() => firstRow(page), POLL).toBe('node-meter-50');
      expect(await focused(page)).toBe('Next page');
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('keeps focus on Load more events while it reads, then moves it to the line that says what is shown', async () => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      // The first page of one event, so that the timeline of two has a next page.
      let firstPage = true;
      const timeline = (url: URL) => url.pathname === '/v1/entities/node/meter-00/timeline';
      await page.route(
        (url) => timeline(url) && !url.searchParams.has('after'),
        (route) => {
          if (!firstPage) return route.fallback();
          firstPage = false;
          const url = new URL(route.request().url());
          url.searchParams.set('limit', '1');
          return route.continue({ url: url.toString() });
        },
      );
      await signIn(page, world.svc.tokens.auditor, '#/entity/node/meter-00');
      await expect.poll(() => page.getByTestId('timeline-shown').textContent(), POLL).toContain('more follow');
      const hold = await holding(page, (url) => timeline(url) && url.searchParams.has('after'));
      await page.getByRole('button', { name: 'Load more events' }).focus();
      await page.keyboard.press('Enter');
      await expect.poll(() => hold.held(), POLL).toBeGreaterThan(0);
      expect(await focused(page)).toBe('Load more events');
      hold.release();
      await expect.poll(() => page.getByRole('button', { name: 'Load more events' }).count(), POLL).toBe(0);
      await expect.poll(() => focused(page), POLL).toBe('timeline-shown');
    } finally {
      await context.close();
    }
  });
});
