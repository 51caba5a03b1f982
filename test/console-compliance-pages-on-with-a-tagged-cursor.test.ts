import { describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { useConsoleWorld } from './support/console-world.ts';
import { cmd } from './support/fleet.ts';

/*
 * Review 199: a compliance cursor names the event its page ended at (`<position>~<tag>`), so that one of another log
 * is refused rather than paged after. The compliance page shows a cut answer's cursor as the `after` to set; set as
 * shown, it reads the next page (the rows after it, none of the first page's again).
 */
const POLL = { timeout: 20_000, interval: 100 };

describe.skipIf(!hasChromium())('the compliance page', () => {
  const world = useConsoleWorld(async (svc) => {
    const { credence } = svc.service.context;
    for (const nodeId of ['page-1', 'page-2', 'page-3']) await credence.engine.execute(cmd.registerNode(nodeId));
    await credence.settle();
  });

  it('shows a tagged cursor as the after to set, and the next page follows it', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens.auditor, '#/compliance');
      await page.getByLabel('Query').selectOption('actions');
      await page.getByLabel('actor', { exact: true }).fill('operator:alice');
      await page.getByLabel('limit').fill('1');
      await page.getByRole('button', { name: 'Run query' }).click();
      await expect.poll(() => page.getByTestId('truncated').count(), POLL).toBe(1);
      const said = (await page.getByTestId('truncated').textContent()) ?? '';
      const cursor = /set after to (\d+~[0-9a-f]{8}\.[0-9a-f]{8}) for the next page/.exec(said.replace(/\s+/g, ' '))?.[1];
      expect(cursor, said).toBeDefined();
      const first = (await page.getByTestId('rows').textContent()) ?? '';

      await page.getByLabel('after', { exact: true }).fill(cursor!);
      await page.getByRole('button', { name: 'Run query' }).click();
      await expect.poll(async () => (await page.getByTestId('rows').textContent()) ?? '', POLL).not.toBe(first);
      expect(await page.getByRole('alert').count()).toBe(0);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
