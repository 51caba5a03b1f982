/**
 * Review 168: after the upgrade to machines v2 the overview's check said "1 refused transitions (broken histories)" in
 * red for a provisioning v1 stored legally after its node's revocation (review 167), at every check: an alarm an
 * operator could do nothing about, and could not tell from a new broken history. The server counts such findings
 * (`findingsByNewerRules`) and the overview words them apart, not red.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { provisionedAfterRevocationByV1 } from './replay.fixtures.ts';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { useConsoleWorld } from './support/console-world.ts';

const POLL = { timeout: 30_000, interval: 100 };

describe.skipIf(!hasChromium())("the overview's replay check after an upgrade of the machines", () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-console-newer-rules-'));
  // Before the service opens the folder: the store as machines v1 left it.
  beforeAll(async () => {
    const store = openSqliteStoreInDir(dir);
    await provisionedAfterRevocationByV1(store);
    await store.close();
  });
  const world = useConsoleWorld(async () => {}, { dir });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('says a finding by a rule newer than its stored event as that, not as a broken history', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens.auditor, '#/overview');
      await page.getByTestId('check-transitions').click();
      const verdict = page.getByTestId('verdict');
      await expect.poll(async () => ((await verdict.textContent()) ?? '').replace(/\s+/g, ' '), POLL).toContain(
        '1 refused transitions (1 by rules newer than the stored events: see Upgrading in docs/service.md).',
      );
      expect(await verdict.textContent()).not.toContain('broken histories');
      expect(await verdict.locator('.bad').count()).toBe(0);
      expect(await verdict.locator('.newer').count()).toBe(1);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
