/**
 * Review 428: the server counts how far behind its read models are up to 100,000 events and says a count stopped there
 * (`credence-events-behind-at-least: true`, and `eventsBehindAtLeast: true` in a compliance answer's JSON). Review 416
 * fixed the compliance page only: the overview, the entity list and the entity page still said "The read models were
 * 100000 event(s) behind" as though exact. Answered here by the page's own routes, as a store that far behind is not
 * built for a test.
 */
import type { Page, Route } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { postCommand } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';
import { profile } from './support/fleet.ts';

const POLL = { timeout: 20_000, interval: 100 };

/** The server's answer, said to come from read models `behind` events behind the store (`atLeast`: or more). */
const lagging = (behind: number, atLeast: boolean) => async (route: Route) => {
  const response = await route.fetch();
  const headers = {
    ...response.headers(),
    'credence-events-behind': String(behind),
    ...(atLeast ? { 'credence-events-behind-at-least': 'true' } : {}),
  };
  if (!/\/v1\/compliance\//.test(route.request().url())) return route.fulfill({ response, headers });
  const body = (await response.json()) as Record<string, unknown>;
  return route.fulfill({ response, headers, json: { ...body, eventsBehind: behind, ...(atLeast ? { eventsBehindAtLeast: true } : {}) } });
};

const behindText = async (page: Page, hash: string): Promise<string> => {
  await page.goto(`/${hash}`);
  await expect.poll(() => page.getByTestId('events-behind').count(), POLL).toBe(1);
  return (await page.getByTestId('events-behind').textContent()) ?? '';
};

describe.skipIf(!hasChromium())('the console with its read models behind the store', () => {
  const world = useConsoleWorld(async (svc) => {
    await postCommand(svc, 'registerNode', { nodeId: 'meter-1', profile });
  });

  it('says a lag counted to its limit is that many or more, on the entity list, the entity page and the overview', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await page.route((url) => url.pathname.startsWith('/v1/entities') || url.pathname === '/v1/compliance/expiring', lagging(100_000, true));
      await signIn(page, world.svc.tokens.auditor, '#/overview');
      expect(await behindText(page, '#/entity/node')).toContain('The read models were 100000 or more event(s) behind the store when this was read: this list may miss');
      expect(await behindText(page, '#/entity/node/meter-1')).toContain(
        'The read models were 100000 or more event(s) behind the store when this was read: the timeline and what depends on it may miss',
      );
      const text = await behindText(page, '#/overview');
      expect(text).toContain('The read models were 100000 or more event(s) behind the store when this was read: this list may miss');
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('says an exact lag as exact, and the larger of two as at least when that one was counted to the limit', async () => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      await page.route((url) => url.pathname.startsWith('/v1/entities') || url.pathname === '/v1/compliance/expiring', lagging(7, false));
      await signIn(page, world.svc.tokens.auditor, '#/overview');
      for (const hash of ['#/entity/node', '#/entity/node/meter-1', '#/overview']) {
        const text = await behindText(page, hash);
        expect(text).toContain('The read models were 7 event(s) behind the store when this was read');
        expect(text).not.toContain('or more');
      }
      // The entity page's timeline counted to the limit, what depends on it exactly: the page says the larger, or more.
      await page.unrouteAll({ behavior: 'wait' });
      await page.route((url) => url.pathname.startsWith('/v1/entities/') && url.pathname.endsWith('/dependents'), lagging(7, false));
      await page.route((url) => url.pathname.startsWith('/v1/entities/') && url.pathname.endsWith('/timeline'), lagging(100_000, true));
      expect(await behindText(page, '#/entity/node/meter-1')).toContain('The read models were 100000 or more event(s) behind');
    } finally {
      await context.close();
    }
  });
});
