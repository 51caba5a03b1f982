/**
 * Review 248: an entity's timeline and what depends on it, read from read models behind the store, are read again; the
 * page cleared its "may miss the latest changes" warning before that read, so when it failed (a 503 with Retry-After)
 * the warning went while the lagging timeline stayed, the page said "Could not load the next events of the timeline"
 * (never asked for), "What depends on it" was replaced by the error, and nothing was read again. Now the warning stays
 * until a read again succeeds, both stay shown marked as last read and why, the page reads again after the server's
 * wait or its backoff, and offers Retry saying the wait.
 */
import type { Page, Route } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { settled } from './http-sse.fixtures.ts';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { postCommand } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';
import { issueCredentialData, profile } from './support/fleet.ts';

const POLL = { timeout: 20_000, interval: 100 };
const DAY = 86_400_000;

/**
 * The first answer to `pathname` comes with `credence-events-behind: 3` (read models behind the store), the second is a
 * 503 asking to wait `retryAfter` seconds, the rest reach the server. Returns how many were asked.
 */
const behindThenUnavailable = async (page: Page, pathname: string, retryAfter: string): Promise<() => number> => {
  let asked = 0;
  await page.route(
    (url) => url.pathname === pathname,
    async (route: Route) => {
      asked += 1;
      if (asked === 1) {
        const response = await route.fetch();
        return route.fulfill({ response, headers: { ...response.headers(), 'credence-events-behind': '3' } });
      }
      if (asked === 2) {
        return route.fulfill({
          status: 503,
          headers: { 'content-type': 'application/problem+json', 'retry-after': retryAfter },
          body: JSON.stringify({ type: 'https://credence.dev/problems/unavailable', title: 'Service Unavailable', status: 503, detail: 'the read models are being rebuilt' }),
        });
      }
      return route.continue();
    },
  );
  return () => asked;
};

const TIMELINE = '/v1/entities/node/meter-1/timeline';
const DEPENDENTS = '/v1/entities/node/meter-1/dependents';

describe.skipIf(!hasChromium())('an entity page whose lagging timeline cannot be read again at once', () => {
  const world = useConsoleWorld(async (svc) => {
    await postCommand(svc, 'registerNode', { nodeId: 'meter-1', profile });
    await postCommand(svc, 'issueCredential', issueCredentialData('cred-1', 'meter-1', { notBefore: new Date().toISOString(), notAfter: new Date(Date.now() + 20 * DAY).toISOString() }));
    await settled(svc);
  });

  it('keeps the warning, the timeline and the graph, says why and the wait, and Retry reads them again', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await behindThenUnavailable(page, TIMELINE, '30');
      await behindThenUnavailable(page, DEPENDENTS, '30');
      // The page's own clock, moved on by the test: its waits (2 s, then the server's 30 s) pass when told, not in real time.
      await page.clock.install();
      await signIn(page, world.svc.tokens.auditor, '#/entity/node/meter-1');
      await expect.poll(() => page.getByTestId('events-behind').count(), POLL).toBe(1);
      // The read again (after 2 s) meets the 503: what was read stays, marked as such, with why and the server's wait.
      // Half a second at a time, far short of the server's 30 s, which would read them again.
      await expect.poll(async () => (await page.clock.fastForward(500), page.getByTestId('entity-stale').count()), POLL).toBe(1);
      const stale = (await page.getByTestId('entity-stale').textContent())?.replace(/\s+/g, ' ') ?? '';
      expect(stale).toContain('Service Unavailable: the read models are being rebuilt');
      expect(stale).toContain('shown as last read');
      expect(stale).toContain('The server asks to wait 30 s before trying again.');
      expect(await page.getByTestId('events-behind').count()).toBe(1);
      expect(await page.locator('table.timeline').count()).toBe(1);
      expect(await page.getByTestId('graph').count()).toBe(1);
      expect(await page.locator('body').textContent()).not.toContain('Could not load the next events of the timeline');
      expect(await page.locator('[role="alert"]').count()).toBe(0);
      // Retry reads both again now: caught up, the warning and the mark go.
      await page.getByTestId('entity-stale').getByRole('button', { name: 'Retry' }).click();
      await expect.poll(() => page.getByTestId('events-behind').count(), POLL).toBe(0);
      expect(await page.getByTestId('entity-stale').count()).toBe(0);
      expect(await page.locator('table.timeline').count()).toBe(1);
      expect(await page.getByTestId('graph').count()).toBe(1);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('reads them again by itself after a wait worth waiting out', async () => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      const timelineReads = await behindThenUnavailable(page, TIMELINE, '1');
      const graphReads = await behindThenUnavailable(page, DEPENDENTS, '1');
      await page.clock.install();
      await signIn(page, world.svc.tokens.auditor, '#/entity/node/meter-1');
      await expect.poll(() => page.getByTestId('events-behind').count(), POLL).toBe(1);
      // The page's waits (2 s, then the server's 1 s or its backoff) pass on its clock, half a second at a time.
      await expect.poll(async () => (await page.clock.fastForward(500), timelineReads() >= 3 && graphReads() >= 3), POLL).toBe(true);
      await expect.poll(() => page.getByTestId('events-behind').count(), POLL).toBe(0);
      await expect.poll(() => page.getByTestId('entity-stale').count(), POLL).toBe(0);
      expect(await page.locator('table.timeline').count()).toBe(1);
      expect(await page.getByTestId('graph').count()).toBe(1);
      expect(await page.locator('[role="alert"]').count()).toBe(0);
    } finally {
      await context.close();
    }
  });
});
