/**
 * Review 325: the console's entity page said "Broken history: …" in red for a credential whose only findings are a
 * refusal by a rule newer than the stored event and one that follows from it, where `credence history`, `credence
 * replay` and the overview say no broken history. GET /v1/entities/{kind}/{id} counts the entity's findings as the
 * fleet's, and the page words them as the overview does: in amber, by a rule newer than the stored event.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { useConsoleWorld } from './support/console-world.ts';
import { rotationAbandonedAfterANewerRuleFinding } from './support/rotation-abandoned-after-a-newer-rule-finding.ts';

const POLL = { timeout: 20_000, interval: 100 };

describe.skipIf(!hasChromium())('the entity page of a credential whose findings are by a newer rule or follow from one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-console-entity-newer-rule-'));
  // Before the service opens the folder: the store as machines v12 could leave it.
  beforeAll(() => rotationAbandonedAfterANewerRuleFinding(dir));
  const world = useConsoleWorld(async () => {}, { dir });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('says so in amber, not as a broken history', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens.auditor, '#/entity/credential/cred-1');
      await expect.poll(() => page.getByTestId('entity-newer-rules').count(), POLL).toBe(1);
      const said = ((await page.getByTestId('entity-newer-rules').textContent()) ?? '').replace(/\s+/g, ' ');
      expect(said).toMatch(/^By a rule newer than the stored event, not a broken history: its machine refuses the stored event at position \d+ \(/);
      expect(said).toContain('1 of the 2 findings are by rules newer than the stored events and 1 follow from them: see Upgrading in docs/service.md');
      expect(await page.getByTestId('entity-newer-rules').getAttribute('class')).toBe('newer');
      expect(await page.getByTestId('entity-broken').count()).toBe(0);
      expect(await page.locator('.entity-head').textContent()).toContain('Now');
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
