/**
 * Review 152: signing in while the server shed load (429) or was unavailable (503) said only "The server could not
 * check the token (HTTP 429); try again.": neither the server's reason nor how long it asked to wait. The page now
 * says the problem's title and detail, as the other pages do, and the wait of its Retry-After.
 */
import { describe, expect, it } from 'vitest';
import { hasChromium, openConsole } from './support/console-browser.ts';
import { useConsoleWorld } from './support/console-world.ts';

const POLL = { timeout: 20_000, interval: 100 };

describe.skipIf(!hasChromium())('signing in while the server cannot check the token', () => {
  const world = useConsoleWorld();

  it.each([
    {
      status: 429,
      headers: { 'content-type': 'application/problem+json', 'retry-after': '30' },
      body: JSON.stringify({ type: 'https://credence.dev/problems/rate_limited', title: 'Too Many Requests', status: 429, detail: 'too many requests; retry in 30 s' }),
      says: 'The server could not check the token (HTTP 429, Too Many Requests: too many requests; retry in 30 s); try again in 30 s.',
    },
    {
      // A proxy's page: its status line only, never its words; the wait it asks for all the same.
      status: 503,
      headers: { 'content-type': 'text/html', 'retry-after': '300' },
      body: '<html>maintenance</html>',
      says: 'The server could not check the token (HTTP 503, Service Unavailable); try again in 5 min.',
    },
  ])('says the reason and the wait of a $status', async ({ status, headers, body, says }) => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await page.route((url) => url.pathname === '/v1/compliance', (route) => route.fulfill({ status, headers, body }));
      await page.goto('/#/overview');
      await page.getByLabel('Bearer token').fill(world.svc.tokens.auditor);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => page.getByRole('alert').textContent(), POLL).toBe(says);
      expect(await page.getByTestId('who').count()).toBe(0);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
