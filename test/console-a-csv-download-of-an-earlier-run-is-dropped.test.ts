/**
 * Review 277, finding 2: a CSV download still running when another query was run, or another query chosen, landed on
 * that query's result: the earlier run's file was saved, and "The file downloaded holds N rows" stood beside a table
 * it was not read for. A download now belongs to the query and values it was started for: its answer is dropped (no
 * file, no note) once a run of another query or other values is under way, and choosing another query aborts it.
 * Review 279: it was dropped by a run of the same query with the same values too (a refresh, Retry), and the file
 * asked for never came, without a word; that run asks the server what the file is read from again, and it is kept.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { seedConsoleFleet } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';

const POLL = { timeout: 30_000, interval: 100 };
const REVOCATIONS = /\/v1\/compliance\/revocations(\?.*)?$/;

/**
 * Every CSV of revocations held until `release()` (the test calls it once what must happen while the download is still
 * running has happened); `state.answered` counts those the route has answered or given up on.
 */
const heldCsv = async (page: Page): Promise<{ answered: number; aborted: number; release: () => void }> => {
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  const state = { answered: 0, aborted: 0, release };
  page.on('requestfailed', (request) => {
    if (REVOCATIONS.test(request.url())) state.aborted++;
  });
  await page.route(REVOCATIONS, async (route) => {
    if (!(route.request().headers()['accept'] ?? '').includes('text/csv')) return route.continue();
    await released;
    const response = await route.fetch().catch(() => undefined);
    if (response !== undefined) await route.fulfill({ response }).catch(() => {});
    state.answered++;
  });
  return state;
};

/** Resolves once a run's (not a CSV's) answer of revocations has reached the page. */
const rowsAnswered = (page: Page): Promise<unknown> =>
  page.waitForResponse((response) => REVOCATIONS.test(response.url()) && !(response.request().headers()['accept'] ?? '').includes('text/csv'), POLL);

const runQuery = async (page: Page, name: string): Promise<void> => {
  await page.getByLabel('Query').selectOption(name);
  await page.getByRole('button', { name: 'Run query' }).click();
  await expect.poll(() => page.locator('#result-heading').textContent(), POLL).toBe(`Result of ${name}`);
};

describe.skipIf(!hasChromium())('a CSV download of an earlier run', () => {
  const world = useConsoleWorld(seedConsoleFleet);

  const open = async () => {
    const opened = await openConsole(world.browser, world.svc.url);
    const downloads: string[] = [];
    opened.page.on('download', (download) => void downloads.push(download.suggestedFilename()));
    await signIn(opened.page, world.svc.tokens.auditor, '#/compliance');
    return { ...opened, downloads };
  };

  it('is saved and counted when the same query is run again with the same values (a refresh, Retry)', async () => {
    const { context, page, cspViolations } = await open();
    try {
      const csv = await heldCsv(page);
      await runQuery(page, 'revocations');
      const saved = page.waitForEvent('download', POLL);
      await page.getByRole('button', { name: 'Download CSV' }).click();
      const rerun = rowsAnswered(page);
      await page.getByRole('button', { name: 'Run query' }).click();
      // The run again has its answer while the download is still held: only then is the CSV answered.
      await rerun;
      csv.release();
      const download = await saved;
      expect(download.suggestedFilename()).toMatch(/^credence-revocations.*\.csv$/);
      expect(csv.aborted).toBe(0);
      await expect.poll(() => page.getByTestId('csv-rows').count(), POLL).toBe(1);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('is neither saved nor counted beside the result of the same query run with other values', async () => {
    const { context, page, downloads, cspViolations } = await open();
    try {
      const csv = await heldCsv(page);
      await runQuery(page, 'revocations');
      await page.getByRole('button', { name: 'Download CSV' }).click();
      await page.getByLabel('from').fill('2000-01-01');
      await page.getByRole('button', { name: 'Run query' }).click();
      await expect.poll(() => page.getByTestId('result-params').textContent(), POLL).toContain('from=2000-01-01');
      csv.release();
      await expect.poll(() => csv.answered, POLL).toBe(1);
      // What the page would do with the answer takes it a moment; nothing else tells when it is done.
      await page.waitForTimeout(1_000);
      expect(downloads).toEqual([]);
      expect(await page.getByTestId('csv-rows').count()).toBe(0);
      expect(csv.aborted).toBe(1);

      // A download of the run shown is saved and counted, as before.
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
      expect(download.suggestedFilename()).toMatch(/^credence-revocations.*\.csv$/);
      await expect.poll(() => page.getByTestId('csv-rows').count(), POLL).toBe(1);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("is aborted when another query is chosen, and lands on neither the form nor the other query's result", async () => {
    const { context, page, downloads } = await open();
    try {
      const csv = await heldCsv(page);
      await runQuery(page, 'revocations');
      await page.getByRole('button', { name: 'Download CSV' }).click();
      await runQuery(page, 'dangling-associations');
      csv.release();
      await expect.poll(() => csv.answered, POLL).toBe(1);
      await page.waitForTimeout(1_000);
      expect(downloads).toEqual([]);
      expect(await page.getByTestId('csv-rows').count()).toBe(0);
      expect(csv.aborted).toBe(1);
    } finally {
      await context.close();
    }
  });
});
