/**
 * Review 458: a console whose script bundle did not load (a proxy dropping /assets/*, a path prefix) or threw as it
 * ran (an old browser) was a blank page: the only words inside <credence-console> were a <noscript>, shown only with
 * JavaScript off. The page now says, as plain text, what to look at; the console removes it once its first render
 * has committed, so a console that runs never shows it, and one whose first render throws still does (review 463).
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { hasChromium, openConsole } from './support/console-browser.ts';
import { useConsoleWorld } from './support/console-world.ts';

const POLL = { timeout: 30_000, interval: 100 };
const visibleText = (page: Page) => () => page.locator('body').innerText();

describe.skipIf(!hasChromium())('the console page before its script runs', () => {
  const world = useConsoleWorld();

  it('says its script did not load, where from and where to read more, when /assets/*.js answers 404', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await page.route('**/assets/*.js', (route) => route.fulfill({ status: 404, contentType: 'text/plain', body: 'not found' }));
      await page.goto('/#/overview');
      await expect.poll(visibleText(page), POLL).toContain('did not load');
      expect(await page.getByTestId('boot').isVisible()).toBe(true);
      const said = await visibleText(page)();
      expect(said).toContain('/assets/');
      expect(said).toContain('docs/console.md');
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);

  it('says the same when the script loads but throws as it runs', async () => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      await page.route('**/assets/*.js', (route) => route.fulfill({ status: 200, contentType: 'text/javascript', body: "throw new Error('a browser too old for the bundle');" }));
      await page.goto('/#/overview');
      await expect.poll(visibleText(page), POLL).toContain('did not load');
      expect(await page.getByTestId('boot').isVisible()).toBe(true);
    } finally {
      await context.close();
    }
  }, 60_000);

  it('says the same when the console starts but its first render throws', async () => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      // The console's element defined with a render that throws: the script ran, the element connected, nothing rendered.
      await page.addInitScript({
        content: `{
          const define = customElements.define.bind(customElements);
          customElements.define = (name, constructor, options) => {
            if (name === 'credence-console') Object.defineProperty(constructor.prototype, 'render', { value: () => { throw new Error('a render bug'); } });
            define(name, constructor, options);
          };
        }`,
      });
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto('/#/overview');
      await expect.poll(() => errors, POLL).toContain('a render bug');
      expect(await page.getByTestId('boot').isVisible()).toBe(true);
      expect(await visibleText(page)()).toContain('did not load');
    } finally {
      await context.close();
    }
  }, 60_000);

  it('is gone once the console runs: the sign-in form shows and no fallback text is left', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await page.goto('/#/overview');
      await page.getByLabel('Bearer token').waitFor();
      expect(await page.getByTestId('boot').count()).toBe(0);
      expect(await visibleText(page)()).not.toContain('did not load');
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);
});
