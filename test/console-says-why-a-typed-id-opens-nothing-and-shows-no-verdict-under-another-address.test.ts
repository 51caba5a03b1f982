/**
 * Review 130, finding 2: an id typed into the verify page's form that is not of the domain's form (`meter 3`) was
 * dropped by the router, and the page went on showing the previous entity's verdict and its Download button under
 * the new address, without a word; the entity picker fell back to the list as silently. Both forms now say why the
 * id opens nothing, and an address that names no entity shows no verdict.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { postCommand } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';
import { profile } from './support/fleet.ts';

const POLL = { timeout: 30_000, interval: 100 };
const RULE = 'is not an entity id: an id is 1 to 128 letters, digits and . _ : ~ -, starting with a letter or digit (no space, no /)';
const REFUSED = `“meter 3” ${RULE}`;

describe.skipIf(!hasChromium())('an id typed into the console that is not an entity id', () => {
  const world = useConsoleWorld(async (svc) => {
    await postCommand(svc, 'registerNode', { nodeId: 'meter-2', profile });
    await postCommand(svc, 'registerNode', { nodeId: 'meter-3', profile });
  });

  const withPage = async (hash: string, body: (page: Page) => Promise<void>): Promise<void> => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens.auditor, hash);
      await body(page);
    } finally {
      await context.close();
    }
  };
  const verdictShown = async (page: Page) => {
    await expect.poll(() => page.getByTestId('verdict').textContent(), POLL).toContain("Not verified: the log's key is not pinned.");
    expect(await page.getByRole('button', { name: 'Download this bundle' }).count()).toBe(1);
  };
  const noVerdict = async (page: Page) => {
    await expect.poll(() => page.getByTestId('verdict').count(), POLL).toBe(0);
    expect(await page.getByRole('button', { name: 'Download this bundle' }).count()).toBe(0);
  };

  it('on the verify page: says why, fetches nothing, and leaves no verdict beside it', async () => {
    await withPage('#/verify/node/meter-3', async (page) => {
      await verdictShown(page);
      await page.getByLabel('Id').fill('meter 3');
      await page.getByRole('button', { name: 'Fetch and verify' }).click();
      await expect.poll(() => page.getByTestId('id-refused').textContent(), POLL).toBe(`${REFUSED}; nothing was fetched.`);
      await noVerdict(page);
      expect(await page.getByLabel('Id').getAttribute('aria-invalid')).toBe('true');

      // A good id again: fetched, and the refusal is gone.
      await page.getByLabel('Id').fill('meter-2');
      await page.getByRole('button', { name: 'Fetch and verify' }).click();
      await verdictShown(page);
      expect(await page.getByTestId('id-refused').count()).toBe(0);
    });
  });

  it('on the verify page: an address naming no entity shows no verdict of the one before', async () => {
    await withPage('#/verify/node/meter-3', async (page) => {
      await verdictShown(page);
      await page.evaluate("location.hash = '#/verify/node/meter%203'");
      await noVerdict(page);
      expect(await page.getByLabel('Id').inputValue()).toBe('');
    });
  });

  it('in the entity picker: says why, and stays on the entity open', async () => {
    await withPage('#/entity/node/meter-2', async (page) => {
      await expect.poll(() => page.getByTestId('state-at').textContent(), POLL).toBe('initialized');
      await page.getByLabel('Id').fill('meter 3');
      await page.getByRole('button', { name: 'Open' }).click();
      await expect.poll(() => page.getByTestId('id-refused').textContent(), POLL).toBe(`${REFUSED}; nothing was opened.`);
      expect(new URL(page.url()).hash).toBe('#/entity/node/meter-2');
      expect(await page.locator('main h2').textContent()).toBe('node-meter-2');

      // Review 363: one past the domain's 128 characters is refused as no id, not sent and answered 404; a longer one
      // pasted is not cut to a legal id by the field.
      const tooLong = `meter-${'n'.repeat(200)}`;
      await page.getByLabel('Id').fill(tooLong);
      expect((await page.getByLabel('Id').inputValue()).length).toBe(129);
      await page.getByRole('button', { name: 'Open' }).click();
      await expect.poll(() => page.getByTestId('id-refused').textContent(), POLL).toBe(`“${tooLong.slice(0, 64)}…” ${RULE}; nothing was opened.`);
      expect(new URL(page.url()).hash).toBe('#/entity/node/meter-2');

      await page.getByLabel('Id').fill('meter-3');
      await page.getByRole('button', { name: 'Open' }).click();
      await expect.poll(() => page.locator('main h2').textContent(), POLL).toBe('node-meter-3');
      expect(await page.getByTestId('id-refused').count()).toBe(0);
    });
  });
});
