/**
 * Found in review: the console kept any SSE `id:` and sent it back as Last-Event-ID. A header value must be
 * ISO-8859-1, so an id with another character made fetch throw before any request: the stream "reconnected" for
 * ever without reaching the network. Only an id that is a decimal position (as the server's are) is kept now; the
 * reconnect resumes from the last such id. Chromium's request interception stands in for the server.
 */
import { describe, expect, it } from 'vitest';
import { answerStreams } from './support/answered-event-streams.ts';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { useConsoleWorld } from './support/console-world.ts';

const POLL = { timeout: 20_000, interval: 100 };

describe.skipIf(!hasChromium())('the console event stream resumes', () => {
  const world = useConsoleWorld();

  it('from the last event position only, ignoring an id that is not one, and reaches the network again', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      const resumedFrom = await answerStreams(
        page,
        'id: 41\nevent: NodeRegistered\ndata: {"streamId":"node-meter-9"}\n\nid: 4€2\nevent: NodeRevoked\ndata: {"streamId":"node-meter-9"}\n\n',
        'retry: 60000\n\n',
      );
      await signIn(page, world.svc.tokens.auditor, '#/feed');
      await expect.poll(() => page.getByTestId('feed').textContent(), POLL).toContain('NodeRevoked');
      await expect.poll(() => resumedFrom.length, POLL).toBeGreaterThanOrEqual(2);
      expect(resumedFrom.slice(0, 2)).toEqual([undefined, '41']);
      expect(await page.getByTestId('feed').textContent()).not.toContain('4€2');
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('from the position its first frame names, when it ends before any event (found in review: from now again)', async () => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      const resumedFrom = await answerStreams(page, 'id: 17\nretry: 1000\n\n', 'retry: 60000\n\n');
      await signIn(page, world.svc.tokens.auditor, '#/feed');
      await expect.poll(() => resumedFrom.length, POLL).toBeGreaterThanOrEqual(2);
      expect(resumedFrom.slice(0, 2)).toEqual([undefined, '17']);
    } finally {
      await context.close();
    }
  });
});
