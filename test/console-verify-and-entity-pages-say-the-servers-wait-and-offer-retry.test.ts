/**
 * Review 181: when the server shed a request (429) or gave up on it (408), the verify and entity pages showed the
 * problem, but not the wait its `Retry-After` asked for (ApiError.retryAfterMs, which the overview and the sign-in
 * say), and offered no way to try again but reloading. They now say the wait and offer **Retry**.
 * A wait past ten digits (domain/retry-after.ts) is not said: it read "Infinity min" once the console took the CLI's reader.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { settled } from './http-sse.fixtures.ts';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { postCommand } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';
import { profile } from './support/fleet.ts';

const POLL = { timeout: 20_000, interval: 100 };

/** The first request to `path` answered `status` with `Retry-After: seconds`; the rest go to the server. */
const refuseOnce = async (page: Page, path: RegExp, status: number, seconds: number): Promise<void> => {
  let refused = false;
  await page.route(path, async (route) => {
    if (refused) return route.continue();
    refused = true;
    const title = status === 429 ? 'Too Many Requests' : 'Request Timeout';
    await route.fulfill({
      status,
      headers: { 'content-type': 'application/problem+json', 'retry-after': String(seconds) },
      body: JSON.stringify({ type: 'about:blank', title, status, detail: 'try again later' }),
    });
  });
};

const alerts = (page: Page) => async (): Promise<string> => (await page.locator('[role="alert"]').allTextContents()).join(' ');

describe.skipIf(!hasChromium())('the verify and entity pages after a 429 or 408', () => {
  const world = useConsoleWorld(async (svc) => {
    await postCommand(svc, 'registerNode', { nodeId: 'meter-1', profile });
    await settled(svc);
  });

  it('verify: says the wait the server asked for, and Retry fetches the bundle again', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await refuseOnce(page, /\/v1\/transparency\/evidence\/node\/meter-1$/, 429, 30);
      await signIn(page, world.svc.tokens.auditor, '#/verify/node/meter-1');
      await expect.poll(alerts(page), POLL).toContain('The server asks to wait 30 s before trying again.');
      await page.getByRole('button', { name: 'Retry' }).click();
      await expect.poll(() => page.getByTestId('verdict').count(), POLL).toBe(1);
      expect(await page.getByRole('button', { name: 'Retry' }).count()).toBe(0);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('entity: says the wait the server asked for, and Retry reads the entity again', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await refuseOnce(page, /\/v1\/entities\/node\/meter-1$/, 408, 5);
      await signIn(page, world.svc.tokens.auditor, '#/entity/node/meter-1');
      await expect.poll(alerts(page), POLL).toContain('The server asks to wait 5 s before trying again.');
      await page.getByRole('button', { name: 'Retry' }).click();
      await expect.poll(() => page.locator('.entity-head').count(), POLL).toBe(1);
      expect(await page.locator('.entity-head').textContent()).toContain('Now');
      expect(await page.getByRole('button', { name: 'Retry' }).count()).toBe(0);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('entity: a wait past ten digits is not said (as the CLI does not print it), and Retry is offered', async () => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      await refuseOnce(page, /\/v1\/entities\/node\/meter-1$/, 429, 99_999_999_999);
      await signIn(page, world.svc.tokens.auditor, '#/entity/node/meter-1');
      await expect.poll(() => page.getByRole('button', { name: 'Retry' }).count(), POLL).toBe(1);
      expect(await alerts(page)()).not.toContain('asks to wait');
      expect(await alerts(page)()).not.toContain('Infinity');
    } finally {
      await context.close();
    }
  });
});
