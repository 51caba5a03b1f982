import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { complianceCsvName } from '../adapters/console/src/compliance-csv-name.ts';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { postCommand } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';
import { issueCredentialData, profile } from './support/fleet.ts';

/*
 * Review 152: a CSV the server wrote from read models behind the store (its `credence-events-behind` header) was saved
 * as `credence-revocations.csv`, without the revocation just made and without a word, as though complete. Its name now
 * says `-behind-<N>`, as a cut answer's says `-partial` (review 113), and the page says what may be missing.
 */
const POLL = { timeout: 20_000, interval: 100 };
const DAY = 86_400_000;

describe('the name of a compliance CSV', () => {
  it('says how far behind its read models were, before the cut and the next page', () => {
    expect(complianceCsvName('revocations', { truncated: false, eventsBehind: 0 })).toBe('credence-revocations.csv');
    expect(complianceCsvName('revocations', { truncated: false, eventsBehind: 2 })).toBe('credence-revocations-behind-2.csv');
    expect(complianceCsvName('expiring', { truncated: true, nextAfter: '1767225600000:c-1', eventsBehind: 7 })).toBe(
      'credence-expiring-behind-7-partial-next-after-1767225600000%3Ac-1.csv',
    );
  });

  // Review 416: a count the server stopped at its limit (`eventsBehindAtLeast`) is no exact count.
  it('says a count stopped at its limit is that many or more', () => {
    expect(complianceCsvName('revocations', { truncated: false, eventsBehind: 100_000, eventsBehindAtLeast: true })).toBe(
      'credence-revocations-behind-100000-or-more.csv',
    );
    expect(complianceCsvName('actions', { truncated: true, nextAfter: '17~0a1b2c3d', eventsBehind: 100_000, eventsBehindAtLeast: true })).toBe(
      'credence-actions-behind-100000-or-more-partial-next-after-17~0a1b2c3d.csv',
    );
  });
});

describe.skipIf(!hasChromium())('the compliance page with its read models behind the store', () => {
  const world = useConsoleWorld(async (svc) => {
    await postCommand(svc, 'registerNode', { nodeId: 'meter-1', profile });
  });

  it('saves the CSV under a name that says so, and says what may be missing', async () => {
    await world.svc.service.context.live.stop();
    const validity = { notBefore: new Date().toISOString(), notAfter: new Date(Date.now() + 20 * DAY).toISOString() };
    await postCommand(world.svc, 'issueCredential', issueCredentialData('late-1', 'meter-1', validity));
    await postCommand(world.svc, 'revokeCredential', { credentialId: 'late-1', reason: 'keyCompromise' });
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens.auditor, '#/compliance');
      await page.getByLabel('Query').selectOption('revocations');
      await page.getByLabel('reason').fill('keyCompromise');
      await page.getByRole('button', { name: 'Run query' }).click();
      await expect.poll(() => page.getByTestId('events-behind').count(), POLL).toBe(1);

      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
      const name = download.suggestedFilename();
      expect(name).toMatch(/^credence-revocations-behind-[1-9]\d*\.csv$/);
      expect(readFileSync((await download.path())!).toString('utf8')).not.toContain('late-1');
      const behind = name.match(/-behind-(\d+)\.csv$/)![1];
      await expect.poll(() => page.getByTestId('csv-behind').textContent(), POLL).toContain(
        `The read models were ${behind} event(s) behind the store when the server wrote this file: rows those events prove may be missing; its name says "-behind-${behind}"`,
      );
      expect(await page.getByTestId('csv-partial').count()).toBe(0);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  /*
   * Review 416: the server counts how far behind its read models are up to 100,000 events, and says a count stopped
   * there (`credence-events-behind-at-least: true`, and `eventsBehindAtLeast: true` in the JSON). The page showed it
   * as exact ("100000 event(s) behind") and named the file `-behind-100000`. Answered here by the page's own routes,
   * as a store that far behind is not built for a test.
   */
  it('says a lag counted to its limit is that many or more, on the page and in the file name', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await page.route(
        (url) => url.pathname === '/v1/compliance/revocations',
        (route) => {
          const csv = route.request().headers()['accept'] === 'text/csv';
          return route.fulfill({
            status: 200,
            headers: {
              'content-type': csv ? 'text/csv' : 'application/json',
              'credence-events-behind': '100000',
              'credence-events-behind-at-least': 'true',
            },
            body: csv
              ? 'position,credentialId\r\n'
              : JSON.stringify({ query: 'revocations', params: { reason: 'keyCompromise' }, eventsBehind: 100_000, eventsBehindAtLeast: true, truncated: false, rows: [] }),
          });
        },
      );
      await signIn(page, world.svc.tokens.auditor, '#/compliance');
      await page.getByLabel('Query').selectOption('revocations');
      await page.getByLabel('reason').fill('keyCompromise');
      await page.getByRole('button', { name: 'Run query' }).click();
      await expect.poll(() => page.getByTestId('events-behind').count(), POLL).toBe(1);
      expect(await page.getByTestId('events-behind').textContent()).toContain('The read models were 100000 or more event(s) behind the store when this was answered');
      expect(await page.getByTestId('result-status').textContent()).toContain('the read models were 100000 or more event(s) behind');

      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
      expect(download.suggestedFilename()).toBe('credence-revocations-behind-100000-or-more.csv');
      await expect.poll(() => page.getByTestId('csv-behind').textContent(), POLL).toContain(
        'The read models were 100000 or more event(s) behind the store when the server wrote this file: rows those events prove may be missing; its name says "-behind-100000-or-more"',
      );
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
