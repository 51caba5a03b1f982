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
});
