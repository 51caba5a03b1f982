/**
 * Review 185, finding 1: an event stream's id names its event as well as its position (`<position>~<tag>`), so that a
 * server refuses an id of another log instead of resuming after its position. The console must send such an id back
 * whole as Last-Event-ID (cut to its position, or dropped as "not a position", the server could check nothing), and
 * shows the position alone. Chromium's request interception stands in for the server.
 */
import { describe, expect, it } from 'vitest';
import { answerStreams } from './support/answered-event-streams.ts';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { useConsoleWorld } from './support/console-world.ts';

const POLL = { timeout: 20_000, interval: 100 };

describe.skipIf(!hasChromium())('the console event stream', () => {
  const world = useConsoleWorld();

  it('resumes with the last event id as received, tag and all, and shows its position', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      const resumedFrom = await answerStreams(page, 'id: 41~0a1b2c3d\nevent: NodeRegistered\ndata: {"streamId":"node-meter-9"}\n\n', 'retry: 60000\n\n');
      await signIn(page, world.svc.tokens.auditor, '#/feed');
      await expect.poll(() => page.getByTestId('feed').textContent(), POLL).toContain('NodeRegistered');
      await expect.poll(() => resumedFrom.length, POLL).toBeGreaterThanOrEqual(2);
      expect(resumedFrom.slice(0, 2)).toEqual([undefined, '41~0a1b2c3d']);
      const shown = (await page.getByTestId('feed').textContent()) ?? '';
      expect(shown).toContain('41');
      expect(shown).not.toContain('0a1b2c3d');
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('resumes from the id its first frame names, when it ends before any event', async () => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      const resumedFrom = await answerStreams(page, 'id: 17~deadbeef\nretry: 1000\n\n', 'retry: 60000\n\n');
      await signIn(page, world.svc.tokens.auditor, '#/feed');
      await expect.poll(() => resumedFrom.length, POLL).toBeGreaterThanOrEqual(2);
      expect(resumedFrom.slice(0, 2)).toEqual([undefined, '17~deadbeef']);
    } finally {
      await context.close();
    }
  });
});
