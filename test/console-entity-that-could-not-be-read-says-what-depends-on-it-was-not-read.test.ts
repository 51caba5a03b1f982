/**
 * Review 223, finding 3: when the entity itself could not be read (404, 409, 503), "What depends on it" stayed blank,
 * which reads as "nothing depends on it", and a timeline that loaded drew the state slider with an instant but no
 * state. The section now says the graph was not read because the entity could not be, and no slider is drawn.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { settled } from './http-sse.fixtures.ts';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { postCommand } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';
import { profile } from './support/fleet.ts';

const POLL = { timeout: 20_000, interval: 100 };

const graphSection = (page: Page) => async (): Promise<string> =>
  ((await page.locator('section[aria-labelledby="graph-heading"]').textContent()) ?? '').replace(/\s+/g, ' ').trim();

describe.skipIf(!hasChromium())('an entity page whose entity could not be read', () => {
  const world = useConsoleWorld(async (svc) => {
    await postCommand(svc, 'registerNode', { nodeId: 'meter-1', profile });
    await settled(svc);
  });

  for (const [status, title] of [[404, 'Not Found'], [409, 'Conflict'], [503, 'Service Unavailable']] as const) {
    it(`${status}: says what depends on it was not read, and draws no state slider`, async () => {
      const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
      try {
        const dependents: string[] = [];
        page.on('request', (r) => {
          if (new URL(r.url()).pathname.includes('/dependents')) dependents.push(r.url());
        });
        // The entity refused each time; its timeline is read from the server.
        await page.route(/\/v1\/entities\/node\/meter-1$/, (route) =>
          route.fulfill({
            status,
            headers: { 'content-type': 'application/problem+json' },
            body: JSON.stringify({ type: 'about:blank', title, status, detail: 'the entity is not available' }),
          }),
        );
        await signIn(page, world.svc.tokens.auditor, '#/entity/node/meter-1');
        await expect.poll(() => page.locator('table.timeline tbody tr').count(), POLL).toBeGreaterThan(0);
        await expect.poll(graphSection(page), POLL).toContain('Not read: node-meter-1 itself could not be read');
        expect(await graphSection(page)()).toContain(`${title}: the entity is not available`);
        expect(await page.locator('#instant').count()).toBe(0);
        expect(await page.getByTestId('instant').count()).toBe(0);
        expect(dependents).toEqual([]);
        expect(cspViolations).toEqual([]);
      } finally {
        await context.close();
      }
    });
  }
});
