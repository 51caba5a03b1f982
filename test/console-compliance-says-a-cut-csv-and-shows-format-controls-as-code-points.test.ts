import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { visibleText } from '../adapters/console/src/visible-text.ts';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { useConsoleWorld } from './support/console-world.ts';
import { profile } from './support/fleet.ts';
import { recordAsAnEarlierVersion } from './support/recorded-by-an-earlier-version.ts';

/*
 * Review 113, two findings of the compliance page:
 * - the CSV downloaded of an answer the server cut (`credence-truncated`) was saved as `credence-actions.csv`, with
 *   nothing in the file or its name to say that more rows match; the file's name now ends in `-partial` (and names the
 *   next page's `after`), and the page says so;
 * - free text (a correlation id: any text of 1 to 200 characters) was shown as written, so a right-to-left override
 *   showed what followed it reversed: format and control characters are now shown as their code points.
 */
const POLL = { timeout: 20_000, interval: 100 };
const OVERRIDE = '\u202E';

describe('visibleText', () => {
  it('writes format and control characters as code points and leaves every other character as it is', () => {
    expect(visibleText(`case ${OVERRIDE}7-eno`)).toBe('case \\u{202E}7-eno');
    expect(visibleText('a\u200Bb\u2066c\u0007d\u0085')).toBe('a\\u{200B}b\\u{2066}c\\u{0007}d\\u{0085}');
    expect(visibleText('Stadtwerke Zürich 北京 <b>&amp;')).toBe('Stadtwerke Zürich 北京 <b>&amp;');
  });
});

describe.skipIf(!hasChromium())('the compliance page', () => {
  const world = useConsoleWorld(async (svc) => {
    // An override is no visible text, refused from a sender since review 186: recorded as an earlier version did.
    const { credence } = svc.service.context;
    for (const nodeId of ['cut-1', 'cut-2', 'cut-3']) {
      await recordAsAnEarlierVersion(credence.store, {
        streamId: `node-${nodeId}`, type: 'NodeRegistered', data: { nodeId, profile }, commandType: 'registerNode', correlationId: `ticket ${OVERRIDE}1-2-3 ${nodeId}`,
      });
    }
    await credence.settle();
  });

  it('saves a cut answer as a partial file and says so, and shows a correlation id\'s override as its code point', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens.auditor, '#/compliance');
      await page.getByLabel('Query').selectOption('actions');
      await page.getByLabel('actor', { exact: true }).fill('test-operator');
      await page.getByLabel('limit').fill('2');
      await page.getByRole('button', { name: 'Run query' }).click();
      await expect.poll(() => page.getByTestId('truncated').count(), POLL).toBe(1);
      const table = (await page.getByTestId('rows').textContent()) ?? '';
      expect(table).toContain('ticket \\u{202E}1-2-3');
      expect(table).not.toContain(OVERRIDE);

      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
      expect(download.suggestedFilename()).toMatch(/^credence-actions-partial-next-after-\d+~[0-9a-f]{8}\.[0-9a-f]{8}\.csv$/);
      const lines = readFileSync((await download.path())!).subarray(3).toString('utf8').trim().split('\r\n');
      expect(lines).toHaveLength(3);
      await expect.poll(() => page.getByTestId('csv-partial').textContent(), POLL).toMatch(/more match: its name ends in "-partial"; run the query again with after \d+~[0-9a-f]{8}\.[0-9a-f]{8} for the next page/);

      // A whole answer is saved under the query's name, and says nothing more
      await page.getByLabel('limit').fill('1000');
      await page.getByRole('button', { name: 'Run query' }).click();
      await expect.poll(() => page.getByTestId('truncated').count(), POLL).toBe(0);
      await page.getByTestId('row-count').waitFor();
      const [whole] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
      expect(whole.suggestedFilename()).toBe('credence-actions.csv');
      expect(await page.getByTestId('csv-partial').count()).toBe(0);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
