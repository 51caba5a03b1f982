/**
 * Review 277, finding 5: after signing in the sign-in form was gone and the keyboard's focus fell to <body>, as it
 * did at sign-out before review 181. It now moves to the heading of the page signed in to, as a navigation does.
 */
import { describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { useConsoleWorld } from './support/console-world.ts';

const POLL = { timeout: 30_000, interval: 100 };

describe.skipIf(!hasChromium())('signing in', () => {
  const world = useConsoleWorld();

  it.each([
    ['#/overview', 'Fleet overview'],
    ['#/verify', 'Verify an evidence bundle'],
  ])('at %s, moves the focus to the page heading', async (hash, heading) => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens.auditor, hash);
      const focused = () => page.evaluate<string>("`${document.activeElement?.tagName ?? ''} ${document.activeElement?.textContent ?? ''}`");
      await expect.poll(focused, POLL).toBe(`H2 ${heading}`);
    } finally {
      await context.close();
    }
  });
});
