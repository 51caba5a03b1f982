/**
 * Review 130, finding 3: the overview printed the server's total over every kind ("21 entities in all") beside cards
 * of four kinds that added up to 16. The line now counts the kinds the cards show, and names the others apart.
 */
import { describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { seedConsoleFleet } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';

const POLL = { timeout: 30_000, interval: 100 };
const CARDS = ['node', 'credential', 'application', 'association'];

describe.skipIf(!hasChromium())('the fleet overview of the console', () => {
  const world = useConsoleWorld(seedConsoleFleet);

  it("says a total that the cards add up to, and the other kinds' entities by kind", async () => {
    const answer = await fetch(`${world.svc.url}/v1/entities/counts`, { headers: { authorization: `Bearer ${world.svc.tokens.auditor}` } });
    const counts = (await answer.json()) as { kinds: Record<string, { entities: number }>; total: number };
    const others = Object.entries(counts.kinds).filter(([kind, { entities }]) => !CARDS.includes(kind) && entities > 0);
    // The fleet has kinds no card shows (its subscription, its nodes' pseudonyms): the case the line got wrong.
    expect(others.map(([kind]) => kind)).toContain('subscription');

    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens.auditor, '#/overview');
      await expect.poll(() => page.getByTestId('total-node').textContent(), POLL).toBe('4');
      const cards = (await Promise.all(CARDS.map((kind) => page.getByTestId(`total-${kind}`).textContent()))).reduce((sum, n) => sum + Number(n), 0);
      const line = ((await page.getByTestId('counts-position').textContent()) ?? '').replace(/\s+/g, ' ').trim();
      const otherCount = others.reduce((sum, [, { entities }]) => sum + entities, 0);
      const byKind = others.sort(([a], [b]) => a.localeCompare(b)).map(([kind, { entities }]) => `${kind}: ${entities}`).join(', ');
      expect(line).toMatch(new RegExp(`^${cards} entities of the kinds above, and ${otherCount} of other kinds \\(${byKind}\\), as of position \\d+\\.$`));
      expect(cards + otherCount).toBe(counts.total);
    } finally {
      await context.close();
    }
  });
});
