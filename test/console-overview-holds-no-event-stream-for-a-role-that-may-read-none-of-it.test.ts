import { describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { useConsoleWorld } from './support/console-world.ts';

/*
 * Review 113: an integrator's landing page, the overview, may read none of its counts and lists (each 403), yet it
 * opened the event stream (pseudonymised for an integrator) and read all three again at every event. Each such tab
 * held one of the integrator's four streams and one of the service's sixteen pseudonymised ones, so four tabs left
 * the Live events page, the one an integrator can use, refused with 429. The overview now follows the stream only
 * when the role may read some of it, and says where an integrator's events are.
 */
const POLL = { timeout: 20_000, interval: 100 };

describe.skipIf(!hasChromium())('the overview of a role that may read none of it', () => {
  const world = useConsoleWorld();

  const overview = async (role: 'integrator' | 'operator') => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    const streams: string[] = [];
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/v1/events') streams.push(request.url());
    });
    await signIn(page, world.svc.tokens[role], '#/overview');
    return { context, page, cspViolations, streams };
  };

  it('opens no event stream for an integrator, says why and links its feed; an operator\'s overview still follows the stream', async () => {
    const integrator = await overview('integrator');
    try {
      await expect.poll(() => integrator.page.getByTestId('live-status').getAttribute('data-state'), POLL).toBe('unfollowed');
      expect(await integrator.page.locator('.refused').count()).toBe(3);
      expect(await integrator.page.getByTestId('live-status').textContent()).toContain('the role integrator may read nothing on this page');
      expect(await integrator.page.getByTestId('live-status').getByRole('link', { name: 'Live events' }).getAttribute('href')).toBe('#/feed');
      expect(integrator.streams).toEqual([]);
      expect(integrator.cspViolations).toEqual([]);
    } finally {
      await integrator.context.close();
    }

    const operator = await overview('operator');
    try {
      await expect.poll(() => operator.page.getByTestId('live-status').getAttribute('data-state'), POLL).toBe('live');
      expect(operator.streams).toHaveLength(1);
    } finally {
      await operator.context.close();
    }
  });
});
