/**
 * Review 277, findings 3 and 4: moving the entity page's time slider showed the old instant's state beside the new
 * instant, unmarked, while the new one was read; and a failed read of the state offered neither the server's wait nor
 * **Retry**, as docs/console.md promises of the entity page's failures worth another try. The state shown is now
 * marked as being read again (`aria-busy`, "Reading…") until the new instant's answers, and a failed read says the wait
 * and offers Retry, which reads the instant the slider is at again.
 */
import type { Page, Route } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { seedConsoleFleet } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';

const POLL = { timeout: 30_000, interval: 100 };
const STATE = /\/v1\/entities\/node\/meter-3\/state\?at=/;

const stateAt = (page: Page) => async (): Promise<string> => (await page.getByTestId('state-at').textContent()) ?? '';

describe.skipIf(!hasChromium())("the entity page's time slider", () => {
  const world = useConsoleWorld(seedConsoleFleet);

  const open = async () => {
    const opened = await openConsole(world.browser, world.svc.url);
    await signIn(opened.page, world.svc.tokens.auditor, '#/entity/node/meter-3');
    await expect.poll(stateAt(opened.page), POLL).toBe('revoked');
    return opened;
  };

  it("marks the state shown as being read again until the new instant's state answers", async () => {
    const { context, page, cspViolations } = await open();
    try {
      const held: Route[] = [];
      await page.route(STATE, (route) => void held.push(route));
      const slider = page.getByRole('slider', { name: 'Instant' });
      await slider.focus();
      await page.keyboard.press('Home');
      await expect.poll(() => held.length, POLL).toBe(1);
      // The old state may stay in view, but not as the new instant's.
      const busy = page.locator('section.slider [aria-busy="true"]');
      expect(await busy.count()).toBe(1);
      expect(await page.getByTestId('state-reading').textContent()).toMatch(/^Reading the state at this instant…/);
      await held[0]!.continue();
      await expect.poll(stateAt(page), POLL).toBe('absent');
      expect(await busy.count()).toBe(0);
      expect(await page.getByTestId('state-reading').count()).toBe(0);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("says the server's wait after a failed read, and Retry reads the slider's instant again", async () => {
    const { context, page } = await open();
    try {
      let asked = 0;
      await page.route(STATE, (route) => {
        asked++;
        if (asked > 1) return route.continue();
        return route.fulfill({
          status: 503,
          headers: { 'content-type': 'application/problem+json', 'retry-after': '7' },
          body: JSON.stringify({ type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'try again later' }),
        });
      });
      const slider = page.getByRole('slider', { name: 'Instant' });
      await slider.focus();
      await page.keyboard.press('Home');
      const alert = page.locator('section.slider [role="alert"]');
      await expect.poll(() => alert.textContent(), POLL).toContain('The server asks to wait 7 s before trying again.');
      const instant = await page.getByTestId('instant').textContent();
      await page.locator('section.slider').getByRole('button', { name: 'Retry' }).click();
      await expect.poll(stateAt(page), POLL).toBe('absent');
      expect(asked).toBe(2);
      expect(await page.getByTestId('instant').textContent()).toBe(instant);
      expect(await alert.count()).toBe(0);
    } finally {
      await context.close();
    }
  });
});
