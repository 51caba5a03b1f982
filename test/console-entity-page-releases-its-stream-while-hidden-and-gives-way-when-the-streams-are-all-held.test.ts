/**
 * Review 304: since review 300 every open entity page holds an event stream, and nothing released it while its tab was
 * hidden. The server allows a principal 4 streams by default (`limits.maxSseStreamsPerPrincipal`), so four entity tabs
 * left the overview or Live events of a fifth stuck on 429 too_many_streams, and the console's tabs took the streams of
 * the operator's CLI under the same token. A hidden entity page now releases its stream (it says "As read at") and, shown
 * again, reads the entity again and follows again; and an entity page answered 429 too_many_streams does not try again
 * in a loop, as Live events does: it says "As read at" with why and Read again, leaving the streams to the pages and
 * clients that need one. Here the cap is one stream per principal, so one stream held elsewhere fills it.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { postCommand, seedConsoleFleet } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';

const POLL = { timeout: 20_000, interval: 100 };
const head = async (page: Page): Promise<string> => ((await page.locator('.entity-head').textContent()) ?? '').replace(/\s+/g, ' ');
const following = (page: Page) => page.locator('.entity-head').getAttribute('data-following');

/** Hides or shows the tab as the browser does (headless Chromium's tab stays visible otherwise). */
const setHidden = (page: Page, hidden: boolean): Promise<void> =>
  page.evaluate(`(() => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => '${hidden ? 'hidden' : 'visible'}' });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => ${hidden} });
    document.dispatchEvent(new Event('visibilitychange'));
  })()`);

describe.skipIf(!hasChromium())('an entity page and the principal\'s event streams', () => {
  const world = useConsoleWorld(seedConsoleFleet, { config: { limits: { maxSseStreamsPerPrincipal: 1 } } });

  /** The streams the server holds open for a role (its gauge `credence_sse_clients`). */
  const openStreams = async (role: string): Promise<number> => {
    const text = await (await fetch(new URL('/metrics', world.svc.url))).text();
    return Number(new RegExp(`credence_sse_clients\\{role="${role}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
  };
  /** A stream as the CLI holds one: open until `close`. */
  const holdStream = async (token: string): Promise<{ status: number; close: () => void }> => {
    const abort = new AbortController();
    const response = await fetch(new URL('/v1/events?from=end', world.svc.url), {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
      signal: abort.signal,
    });
    if (!response.ok) await response.body?.cancel();
    return { status: response.status, close: () => abort.abort() };
  };

  it('releases its stream while hidden, and shown again reads what changed meanwhile and follows again', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens.operator, '#/entity/credential/meter-4-service');
      await expect.poll(() => following(page), POLL).toBe('live');
      await expect.poll(() => openStreams('operator'), POLL).toBe(1);
      expect(await head(page)).toContain('Now');

      await setHidden(page, true);
      await expect.poll(() => openStreams('operator'), POLL).toBe(0);
      await expect.poll(() => head(page), POLL).toMatch(/As read at \d\d:\d\d/);
      expect(await following(page)).toBe('none');
      expect(await page.getByTestId('not-followed').textContent()).toContain('while this tab is hidden');
      // The slot it held is another client's to take meanwhile.
      const other = await holdStream(world.svc.tokens.operator);
      other.close();
      expect(other.status).toBe(200);
      await expect.poll(() => openStreams('operator'), POLL).toBe(0);

      await postCommand(world.svc, 'revokeCredential', { credentialId: 'meter-4-service', reason: 'keyCompromise' });
      await setHidden(page, false);
      await expect.poll(() => head(page), POLL).toContain('Now revoked');
      await expect.poll(() => following(page), POLL).toBe('live');
      await expect.poll(() => openStreams('operator'), POLL).toBe(1);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('says "As read at" and why when the token\'s streams are all held, tries no more by itself, and follows again when asked', async () => {
    await expect.poll(() => openStreams('auditor'), POLL).toBe(0);
    const cli = await holdStream(world.svc.tokens.auditor);
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      expect(cli.status).toBe(200);
      let asked = 0;
      page.on('request', (request) => {
        if (new URL(request.url()).pathname === '/v1/events') asked += 1;
      });
      await page.clock.install();
      await signIn(page, world.svc.tokens.auditor, '#/entity/credential/meter-1-service');
      await expect.poll(() => head(page), POLL).toMatch(/As read at \d\d:\d\d/);
      expect(await following(page)).toBe('refused');
      expect(await page.getByTestId('not-followed').textContent()).toMatch(/every event stream the server allows is held, by other pages or clients of this token/);
      expect(await page.locator('.entity-head').getByRole('button', { name: 'Read again' }).count()).toBe(1);
      // Past the server's Retry-After (sseStallMs, 10 s) and the longest backoff: a stream tried again would be asked for.
      await page.clock.fastForward(70_000);
      await page.waitForTimeout(500);
      expect(asked).toBe(1);
      expect(await following(page)).toBe('refused');

      cli.close();
      await expect.poll(() => openStreams('auditor'), POLL).toBe(0);
      await page.locator('.entity-head').getByRole('button', { name: 'Read again' }).click();
      await expect.poll(() => following(page), POLL).toBe('live');
      await expect.poll(() => head(page), POLL).toContain('Now');
    } finally {
      cli.close();
      await context.close();
    }
  });
});
