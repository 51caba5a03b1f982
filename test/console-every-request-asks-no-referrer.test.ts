/**
 * Review 363, finding 4: the console's reads and sign-out asked `referrerPolicy: 'no-referrer'`, but its sign-in check
 * (console-app.ts) and its event stream (sse.ts) did not: requests that carry the bearer token relied on the page's
 * Referrer-Policy header alone. Every request the console makes now asks for no referrer itself.
 */
import { describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { useConsoleWorld } from './support/console-world.ts';

const POLL = { timeout: 30_000, interval: 100 };

describe.skipIf(!hasChromium())('every request of the console', () => {
  const world = useConsoleWorld();

  it('asks for no referrer: the sign-in check, the reads and the event stream', async () => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      // Each fetch's policy as the page asked it (a Request built from its arguments), before the network sees it.
      await context.addInitScript(`{
        const fetched = (window.__fetched = []);
        const original = window.fetch;
        window.fetch = function (input, init) {
          const request = new Request(input, init);
          fetched.push({ path: new URL(request.url).pathname, referrerPolicy: request.referrerPolicy });
          return original.call(this, input, init);
        };
      }`);
      await signIn(page, world.svc.tokens.operator, '#/feed');
      const fetched = () => page.evaluate(() => (globalThis as unknown as { __fetched: { path: string; referrerPolicy: string }[] }).__fetched);
      await expect.poll(async () => (await fetched()).map((f) => f.path), POLL).toEqual(expect.arrayContaining(['/v1/compliance', '/v1/events']));
      const all = await fetched();
      expect(all.filter((f) => f.referrerPolicy !== 'no-referrer')).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);
});
