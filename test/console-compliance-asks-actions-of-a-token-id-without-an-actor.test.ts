/**
 * Review 196 (gap): `actions` is asked of an actor, of an API token id (`tokenId`) or of both. The compliance form
 * shows the `tokenId` field the catalog names, and `actor` stays required only while `tokenId` is empty: a person
 * asking "everything done with token X" need not know, or type, its subject.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { settled } from './http-sse.fixtures.ts';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { postCommand } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';
import { cmd, profile } from './support/fleet.ts';
import type { TestService } from './support/service.ts';

const POLL = { timeout: 30_000, interval: 100 };

/** n-tok registered through the API with the operator's token; n-engine by the engine, with none. */
const seed = async (svc: TestService): Promise<void> => {
  await postCommand(svc, 'registerNode', { nodeId: 'n-tok', profile });
  await svc.service.context.credence.engine.execute(cmd.registerNode('n-engine'));
  await settled(svc);
};

const actorRequired = async (page: Page): Promise<boolean> => (await page.locator('input[name="param-actor"]').getAttribute('required')) !== null;

describe.skipIf(!hasChromium())('the compliance form', () => {
  const world = useConsoleWorld(seed);

  it('asks actions of a token id alone, actor required only while tokenId is empty', async () => {
    const answer = await fetch(`${world.svc.url}/v1/entities/node/n-tok/timeline`, { headers: { authorization: `Bearer ${world.svc.tokens.auditor}` } });
    const tokenId = ((await answer.json()) as { entries: { token?: { id: string } }[] }).entries[0]!.token!.id;
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens.auditor, '#/compliance');
      await page.getByLabel('Query').waitFor({ timeout: 30_000 });
      await page.getByLabel('Query').selectOption('actions');
      await expect.poll(() => actorRequired(page), POLL).toBe(true);

      await page.getByLabel('tokenId', { exact: true }).fill(tokenId);
      await expect.poll(() => actorRequired(page), POLL).toBe(false);
      expect(await page.locator('label[for="param-actor"] + .required').count()).toBe(0);
      await page.getByRole('button', { name: 'Run query' }).click();
      await expect.poll(() => page.getByTestId('row-count').textContent(), POLL).toBe('1');
      expect(await page.getByTestId('rows').textContent()).toContain('node-n-tok');
      expect(await page.getByTestId('result-params').textContent()).toContain(`tokenId=${tokenId}`);

      // Emptied again, actor is required again.
      await page.getByLabel('tokenId', { exact: true }).fill('');
      await expect.poll(() => actorRequired(page), POLL).toBe(true);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
