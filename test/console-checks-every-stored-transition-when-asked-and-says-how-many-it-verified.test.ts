/**
 * Review 152: "Check every stored transition" asked GET /v1/replay?limit=0, which verifies only the events appended
 * since the server's previous verdict, while the page and docs/console.md said the whole store was replayed (a second
 * check verified nothing but the newest events, and an event altered in the store behind the kept verdict went
 * unseen). The button now asks for `full=true`, on demand only, and the page says how many events this check verified.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { postCommand } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';
import { profile } from './support/fleet.ts';

const POLL = { timeout: 20_000, interval: 100 };

/** The verdict as it reads, its white space folded. */
const verdict = async (page: Page): Promise<string> => ((await page.getByTestId('verdict').textContent()) ?? '').replace(/\s+/g, ' ');

const storedEvents = async (url: string, token: string): Promise<number> => {
  const response = await fetch(`${url}/v1/replay?limit=0&full=true`, { headers: { authorization: `Bearer ${token}` } });
  return ((await response.json()) as { events: number }).events;
};

describe.skipIf(!hasChromium())('the overview\'s replay check', () => {
  const world = useConsoleWorld(async (svc) => {
    await postCommand(svc, 'registerNode', { nodeId: 'meter-1', profile });
  });

  it('replays the whole store each time it is asked, and only then', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    const replays: string[] = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.pathname === '/v1/replay') replays.push(url.search);
    });
    try {
      await signIn(page, world.svc.tokens.auditor, '#/overview');
      await expect.poll(() => page.getByTestId('total-node').textContent(), POLL).toBe('1');
      expect(replays).toEqual([]);

      await page.getByTestId('check-transitions').click();
      const first = await storedEvents(world.svc.url, world.svc.tokens.auditor);
      await expect.poll(() => verdict(page), POLL).toContain(
        `All ${first} stored events replayed through their machines now: every stored transition is legal.`,
      );

      // The server keeps the verdict before: a check without full=true would verify the new events alone.
      await postCommand(world.svc, 'registerNode', { nodeId: 'meter-2', profile });
      await expect.poll(() => page.getByTestId('total-node').textContent(), POLL).toBe('2');
      const second = await storedEvents(world.svc.url, world.svc.tokens.auditor);
      expect(second).toBeGreaterThan(first);
      await page.getByRole('button', { name: 'Check again' }).click();
      await expect.poll(() => verdict(page), POLL).toContain(
        `All ${second} stored events replayed through their machines now: every stored transition is legal.`,
      );
      expect(replays).toEqual(['?limit=0&full=true', '?limit=0&full=true']);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
