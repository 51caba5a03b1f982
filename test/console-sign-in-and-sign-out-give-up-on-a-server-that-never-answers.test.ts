/**
 * Review 212: signing in and signing out had no time limit. With GET /v1/compliance never answered, the form read
 * "Checking…" 75 s later with its button disabled; with DELETE /v1/session never answered, the page never said that
 * the token was not revoked. Both now give up after REQUEST_TIMEOUT_MS, as every other request does, and say so; a
 * sign-out says the token stays valid until it expires or is revoked, naming the command (never the token). Chromium's
 * request interception stands in for the server that never answers; the page's clock is Playwright's, so the minute
 * passes at once.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { useConsoleWorld } from './support/console-world.ts';

const POLL = { timeout: 20_000, interval: 100 };
/** The sign-in form's error, '' while it shows none (read at once: a poll must not wait for the element to come). */
const errorText = async (page: Page): Promise<string> => (await page.locator('#token-error').allTextContents()).join('');

describe.skipIf(!hasChromium())('signing in and out of the console when the server never answers', () => {
  const world = useConsoleWorld();

  it('gives up checking a token, says the server did not answer in time, and lets the user try again', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await page.clock.install();
      await page.route((url) => url.pathname === '/v1/compliance', () => undefined);
      await page.goto('/#/overview');
      await page.getByLabel('Bearer token').fill(world.svc.tokens.auditor);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(async () => (await page.locator('form button[type=submit]').allTextContents()).join(''), POLL).toBe('Checking…');
      await page.clock.fastForward(61_000);
      await expect.poll(() => errorText(page), POLL).toContain('The server did not answer within 60 s');
      expect(await errorText(page)).toContain('the token was not checked');
      expect(await page.getByRole('button', { name: 'Sign in' }).isEnabled()).toBe(true);
      expect(await errorText(page)).not.toContain(world.svc.tokens.auditor);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('signs out of the tab, and says in time that the token was not revoked and how to revoke it', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await page.clock.install();
      await signIn(page, world.svc.tokens.auditor, '#/overview');
      await page.route((url) => url.pathname === '/v1/session', (route) => (route.request().method() === 'DELETE' ? undefined : route.continue()));
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByLabel('Bearer token').waitFor();
      await page.clock.fastForward(61_000);
      await expect.poll(() => errorText(page), POLL).toContain('the server did not answer within 60 s');
      const text = await errorText(page);
      expect(text).toContain('could not revoke the token');
      expect(text).toMatch(/stays valid until .* or until it is revoked: credence token revoke [^\s;.]+/);
      expect(text).not.toContain(world.svc.tokens.auditor);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
