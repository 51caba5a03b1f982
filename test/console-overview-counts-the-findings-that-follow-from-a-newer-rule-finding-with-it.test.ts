/**
 * After an upgrade to machines v3 an old store's successor credential on its predecessor's key is a finding by a newer
 * rule (keyIsNew), and the events replay refuses on that credential in turn follow from it (`followsFrom`). The
 * overview words those with it, in amber, and only what no newer rule explains in red: counted as broken histories,
 * the knock-on findings read as tampering.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { fleet, laterEventsOnIt, successorOnItsPredecessorsKey } from './successor-on-its-predecessors-key.fixtures.ts';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { useConsoleWorld } from './support/console-world.ts';

const POLL = { timeout: 30_000, interval: 100 };

describe.skipIf(!hasChromium())("the overview's replay check of an old store with a finding by a newer rule and its knock-on findings", () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-console-follows-'));
  beforeAll(async () => {
    const store = openSqliteStoreInDir(dir);
    await fleet(store);
    await successorOnItsPredecessorsKey(store);
    await laterEventsOnIt(store);
    await store.close();
  });
  const world = useConsoleWorld(async () => {}, { dir });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('counts the findings that follow from it with it, and only the one broken history in red', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens.auditor, '#/overview');
      await page.getByTestId('check-transitions').click();
      const verdict = page.getByTestId('verdict');
      // The service's cascade may add a revocation of the association on the unrecorded credential: one more that follows.
      await expect.poll(async () => ((await verdict.textContent()) ?? '').replace(/\s+/g, ' '), POLL).toMatch(
        /(\d+) refused transitions \(1 by rules newer than the stored events and \d+ that follow from them: see Upgrading in docs\/service\.md; 1 in broken histories\)\./,
      );
      expect(await verdict.locator('.bad').textContent()).toBe('1 in broken histories');
      expect(await verdict.locator('.newer').count()).toBe(1);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
