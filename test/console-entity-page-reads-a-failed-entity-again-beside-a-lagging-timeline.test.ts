/**
 * Review 254: when an entity's read failed in a way worth another try (a 503 with Retry-After) while its timeline came
 * back from read models behind the store, the page said "It is read again shortly." and scheduled nothing: neither the
 * entity nor the timeline was read again but by the manual Retry. Now the entity is read again with the timeline's end,
 * after the server's wait or the backoff, whichever is longer, until it is read; a failure no other try mends (a 404)
 * says the page is not read again by itself.
 */
import type { Page, Route } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { settled } from './http-sse.fixtures.ts';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { postCommand } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';
import { profile } from './support/fleet.ts';

const POLL = { timeout: 20_000, interval: 100 };
const ENTITY = '/v1/entities/node/meter-1';
const TIMELINE = '/v1/entities/node/meter-1/timeline';

/** The first answer to `pathname` is `answer`'s; the rest reach the server as they are. Returns how many were asked. */
const firstAnswer = async (page: Page, pathname: string, answer: (route: Route) => Promise<void>): Promise<() => number> => {
  let asked = 0;
  await page.route(
    (url) => url.pathname === pathname,
    async (route: Route) => {
      asked += 1;
      return asked > 1 ? route.continue() : answer(route);
    },
  );
  return () => asked;
};

/** The first answer to `pathname` is `status` with a problem asking to wait `retryAfter` seconds. */
const failOnce = (page: Page, pathname: string, status: number, retryAfter: string): Promise<() => number> =>
  firstAnswer(page, pathname, (route) =>
    route.fulfill({
      status,
      headers: { 'content-type': 'application/problem+json', 'retry-after': retryAfter },
      body: JSON.stringify({ type: 'about:blank', title: status === 503 ? 'Service Unavailable' : 'Not Found', status, detail: 'not now' }),
    }),
  );

/** The first answer to `pathname` comes with `credence-events-behind: 3`. */
const behindOnce = (page: Page, pathname: string): Promise<() => number> =>
  firstAnswer(page, pathname, async (route) => {
    const response = await route.fetch();
    await route.fulfill({ response, headers: { ...response.headers(), 'credence-events-behind': '3' } });
  });

describe.skipIf(!hasChromium())('an entity page whose entity read failed while its timeline lagged', () => {
  const world = useConsoleWorld(async (svc) => {
    await postCommand(svc, 'registerNode', { nodeId: 'meter-1', profile });
    await settled(svc);
  });

  it('reads the entity and the timeline again by itself after the server\'s wait', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      const entityReads = await failOnce(page, ENTITY, 503, '1');
      const timelineReads = await behindOnce(page, TIMELINE);
      await signIn(page, world.svc.tokens.auditor, '#/entity/node/meter-1');
      await expect.poll(() => page.getByTestId('events-behind').count(), POLL).toBe(1);
      expect(await page.getByTestId('events-behind').textContent()).toContain('It is read again shortly.');
      // Read again with no click: the entity's state, what depends on it, and the timeline caught up.
      await expect.poll(() => page.locator('.entity-head').count(), POLL).toBe(1);
      expect(entityReads()).toBeGreaterThanOrEqual(2);
      expect(timelineReads()).toBeGreaterThanOrEqual(2);
      await expect.poll(() => page.getByTestId('events-behind').count(), POLL).toBe(0);
      await expect.poll(() => page.getByTestId('graph').count(), POLL).toBe(1);
      expect(await page.locator('table.timeline').count()).toBe(1);
      expect(await page.locator('[role="alert"]').count()).toBe(0);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('says it is not read again by itself when the entity\'s failure is not worth another try', async () => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      const entityReads = await failOnce(page, ENTITY, 404, '1');
      await behindOnce(page, TIMELINE);
      await signIn(page, world.svc.tokens.auditor, '#/entity/node/meter-1');
      await expect.poll(() => page.getByTestId('events-behind').count(), POLL).toBe(1);
      const behind = (await page.getByTestId('events-behind').textContent()) ?? '';
      expect(behind).toContain('It is not read again by itself');
      expect(behind).not.toContain('It is read again shortly.');
      await page.waitForTimeout(2_500);
      expect(entityReads()).toBe(1);
    } finally {
      await context.close();
    }
  });
});
