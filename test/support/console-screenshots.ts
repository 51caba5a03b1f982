/**
 * Screenshots of the web console's main pages for docs/ (issue 14): `npx tsx test/support/console-screenshots.ts`.
 * Builds the bundle if stale, starts the service on a temporary data folder, seeds the console fleet through the
 * API, and saves one PNG per page at 1366x768 into docs/screenshots/.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureConsoleBundle } from './console-bundle.ts';
import { launchChromium, openConsole, signIn } from './console-browser.ts';
import { seedConsoleFleet, startConsoleService } from './console-fleet.ts';

const OUT = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));
const WAIT = { timeout: 30_000 };

const main = async (): Promise<void> => {
  await ensureConsoleBundle();
  const svc = await startConsoleService({ config: { logLevel: 'warn' } });
  const browser = await launchChromium();
  try {
    await seedConsoleFleet(svc);
    const { page, context } = await openConsole(browser, svc.url);
    const shot = async (name: string): Promise<void> => {
      await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: false });
      console.log(`docs/screenshots/${name}.png`);
    };
    await page.goto('/');
    await shot('console-sign-in');
    await signIn(page, svc.tokens.auditor, '#/overview');
    await page.locator('.live[data-state="live"]').waitFor(WAIT);
    await page.locator('section[aria-labelledby="revoked-heading"] table').waitFor(WAIT);
    await shot('console-overview');
    await page.goto('/#/entity/node/meter-3');
    await page.getByTestId('graph').waitFor(WAIT);
    await page.getByTestId('state-at').waitFor(WAIT);
    await shot('console-entity');
    await page.goto('/#/verify/node/meter-3');
    await page.getByTestId('verdict').waitFor(WAIT);
    await shot('console-verify');
    await page.getByRole('button', { name: 'Tamper with it (demonstration)' }).click();
    await page.getByTestId('failed-check').waitFor(WAIT);
    await shot('console-verify-tampered');
    await page.goto('/#/compliance');
    await page.getByLabel('Query').selectOption('revocations');
    await page.getByRole('button', { name: 'Run query' }).click();
    await page.getByTestId('row-count').waitFor(WAIT);
    await shot('console-compliance');
    await page.goto('/#/feed');
    await page.getByLabel('Replay the history first').check();
    await page.getByTestId('feed').waitFor(WAIT);
    await shot('console-feed');
    await context.close();
  } finally {
    await browser.close();
    await svc.close();
  }
};

await main();
