/**
 * Review 192, finding 5: the compliance form's `actor` field of the `actions` query was neither required nor
 * aria-required, though the server refuses the query without it (400, rule `required`). Each parameter a query
 * requires (`actions` actor, `expiring` days, `provisioned` subscription) is now a required field, marked * beside its
 * label; the others are not.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { useConsoleWorld } from './support/console-world.ts';

const POLL = { timeout: 30_000, interval: 100 };

/** The form's fields, each as its `name` and whether it is required. */
const fields = async (page: Page): Promise<Record<string, boolean>> => {
  const shown: Record<string, boolean> = {};
  for (const input of await page.locator('form.query input').all()) {
    shown[((await input.getAttribute('name')) ?? '').replace(/^param-/, '')] = (await input.getAttribute('required')) !== null;
  }
  return shown;
};

describe.skipIf(!hasChromium())('the compliance form', () => {
  const world = useConsoleWorld();

  it('marks the parameters a query requires as required, and only those', async () => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens.auditor, '#/compliance');
      await page.getByLabel('Query').waitFor({ timeout: 30_000 });
      await page.getByLabel('Query').selectOption('actions');
      await expect.poll(() => fields(page), POLL).toMatchObject({ actor: true, from: false, to: false });
      // Said to the eye by a * the form explains; its accessible name stays the parameter's.
      expect(await page.locator('label[for="param-actor"] + .required').textContent()).toBe('*');
      expect(await page.getByLabel('actor', { exact: true }).count()).toBe(1);
      expect(await page.locator('form.query').textContent()).toContain('Fields marked * are required.');
      await page.getByLabel('Query').selectOption('expiring');
      await expect.poll(() => fields(page), POLL).toMatchObject({ days: true });
      await page.getByLabel('Query').selectOption('provisioned');
      await expect.poll(() => fields(page), POLL).toMatchObject({ subscription: true });
      await page.getByLabel('Query').selectOption('revocations');
      await expect.poll(() => fields(page), POLL).toMatchObject({ reason: false, from: false, to: false });
    } finally {
      await context.close();
    }
  });
});
