/**
 * Review 192, findings 1 and 2: since review 185 a stream id names its event (`<position>~<tag>`), and a resume from an
 * id of another log is refused, 409 resume_point_not_in_log. When the server at the console's address was replaced by
 * one on another store, the overview showed the server's API advice ("start again with from=start …"), its live
 * updates stayed dead and "Last event … @N" of the old log stayed; the live events page showed the same advice above
 * rows of the old log, unmarked. Now the overview follows the new log from now by itself, reads its counts again,
 * drops the old last event and says in one line that the server's event log changed; the live events page says so in
 * its own words, marks the old rows, and offers to follow again from the start or from now.
 *
 * The server is replaced behind a small proxy at one address: service A, then service B (another data folder), each
 * with its own tokens (the proxy swaps the one for the other, as a migrated token store would make them alike).
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { settled } from './http-sse.fixtures.ts';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { useConsoleWorld } from './support/console-world.ts';
import { cmd } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';

const POLL = { timeout: 30_000, interval: 100 };

const register = async (svc: TestService, ...nodeIds: string[]): Promise<void> => {
  for (const nodeId of nodeIds) await svc.service.context.credence.engine.execute(cmd.registerNode(nodeId));
  await settled(svc);
};

/** One address in front of `first`, until `replace(second)`: from then on every request goes to `second`. */
const serverAtOneAddress = async (first: TestService) => {
  let target = first;
  let tokens = new Map<string, string>();
  const server: Server = createServer((incoming, outgoing) => {
    const to = new URL(target.url);
    const headers = { ...incoming.headers, host: to.host };
    const bearer = /^Bearer (.+)$/.exec(headers.authorization ?? '')?.[1];
    if (bearer !== undefined && tokens.has(bearer)) headers.authorization = `Bearer ${tokens.get(bearer)!}`;
    const upstream = request({ host: to.hostname, port: to.port, method: incoming.method, path: incoming.url, headers }, (answer) => {
      outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(outgoing);
    });
    upstream.on('error', () => outgoing.destroy());
    outgoing.on('close', () => upstream.destroy());
    incoming.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    /** The service at this address replaced: its connections (the event streams among them) cut, as a restart does. */
    replace(second: TestService): void {
      tokens = new Map(Object.entries(first.tokens).map(([role, token]) => [token, second.tokens[role as keyof typeof second.tokens]]));
      target = second;
      server.closeAllConnections();
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
};

/** Texts read without waiting: a locator's textContent() waits for its element, up to 30 s. */
const textOf = async (page: Page, selector: string): Promise<string> => (await page.locator(selector).allTextContents()).join('');
const nodeTotal = (page: Page): Promise<string> => textOf(page, '[data-testid="total-node"]');
const liveState = (page: Page): Promise<string | null> => page.getByTestId('live-status').getAttribute('data-state');

describe.skipIf(!hasChromium())('the console, when the server at its address holds another event log', () => {
  // A: a short log; B: a longer one, so that A's ids are at positions B holds (another event there: "another log").
  const world = useConsoleWorld(async (a) => register(a, 'a-1', 'a-2'));
  const closing: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close();
  });

  const replaceable = async () => {
    const b = await startTestService();
    closing.push(() => b.close());
    await register(b, 'b-1', 'b-2', 'b-3', 'b-4', 'b-5', 'b-6');
    const proxy = await serverAtOneAddress(world.svc);
    closing.push(() => proxy.close());
    return { b, proxy };
  };

  it('the overview follows the new log from now by itself, reads its counts again and says the log changed', async () => {
    const { b, proxy } = await replaceable();
    const { context, page, cspViolations } = await openConsole(world.browser, proxy.url);
    closing.push(() => context.close());
    await signIn(page, world.svc.tokens.auditor, '#/overview');
    await expect.poll(() => liveState(page), POLL).toBe('live');
    await register(world.svc, 'a-3');
    await expect.poll(() => nodeTotal(page), POLL).toBe('3');
    await expect.poll(() => textOf(page, '.last-event'), POLL).toMatch(/ @\d+$/);
    const lastOfA = await page.locator('.last-event').textContent();

    proxy.replace(b);
    await expect.poll(() => textOf(page, '[data-testid="log-changed"]'), POLL).toContain("The server's event log changed");
    await expect.poll(() => nodeTotal(page), POLL).toBe('6');
    await expect.poll(() => liveState(page), POLL).toBe('live');
    // The last event of the old log is gone (one of the new log's may have come since).
    expect((await page.locator('.last-event').allTextContents()).join('')).not.toBe(lastOfA);
    expect(await page.getByTestId('live-status').textContent()).not.toContain('from=start');

    // Live again, on the new log.
    await register(b, 'b-7');
    await expect.poll(() => nodeTotal(page), POLL).toBe('7');
    await expect.poll(() => textOf(page, '.last-event'), POLL).toMatch(/ @\d+$/);
    expect(cspViolations).toEqual([]);
  }, 120_000);

  it('live events say so in console terms, mark the old rows, and follow again from the start or from now', async () => {
    const { b, proxy } = await replaceable();
    const { context, page } = await openConsole(world.browser, proxy.url);
    closing.push(() => context.close());
    await signIn(page, world.svc.tokens.auditor, '#/feed');
    await expect.poll(() => page.getByTestId('feed-status').getAttribute('data-state'), POLL).toBe('live');
    await register(world.svc, 'a-4');
    await expect.poll(() => textOf(page, '[data-testid="feed"]'), POLL).toContain('node-a-4');

    proxy.replace(b);
    const status = page.getByTestId('feed-status');
    await expect.poll(() => status.textContent(), POLL).toContain("The server's event log is not the one this page was following; the rows below are from it.");
    expect(await status.textContent()).not.toContain('from=start');
    const fromStart = page.getByRole('button', { name: 'Follow again from the start' });
    await expect.poll(() => page.evaluate<string | undefined>('document.activeElement?.textContent?.trim()'), POLL).toBe('Follow again from the start');
    expect(await page.getByRole('button', { name: 'Follow from now' }).count()).toBe(1);
    // The old rows stay, each marked as of the previous log.
    const rows = page.locator('[data-testid="feed"] tbody tr');
    expect(await page.locator('[data-testid="feed"]').textContent()).toContain('node-a-4');
    expect(await page.locator('[data-testid="feed"] tbody tr.previous-log').count()).toBe(await rows.count());
    for (const text of await rows.allTextContents()) expect(text).toContain('previous log');

    await fromStart.click();
    await expect.poll(() => textOf(page, '[data-testid="feed"]'), POLL).toContain('node-b-6');
    expect(await page.getByLabel('Replay the history first').isChecked()).toBe(true);
    expect(await page.locator('[data-testid="feed"] tbody tr.previous-log').count()).toBe(0);
    expect(await page.locator('[data-testid="feed"]').textContent()).not.toContain('node-a-4');
    await expect.poll(() => status.getAttribute('data-state'), POLL).toBe('live');

    // The checkbox still works: unticked, the page follows from now (the history is not replayed).
    await page.getByLabel('Replay the history first').uncheck();
    await expect.poll(() => page.locator('[data-testid="feed"] tbody tr').count(), POLL).toBe(0);
    await register(b, 'b-8');
    await expect.poll(() => textOf(page, '[data-testid="feed"]'), POLL).toContain('node-b-8');
  }, 120_000);

  it('"Follow from now" follows the new log from its end', async () => {
    const { b, proxy } = await replaceable();
    const { context, page } = await openConsole(world.browser, proxy.url);
    closing.push(() => context.close());
    await signIn(page, world.svc.tokens.auditor, '#/feed');
    await expect.poll(() => page.getByTestId('feed-status').getAttribute('data-state'), POLL).toBe('live');
    await register(world.svc, 'a-5');
    await expect.poll(() => textOf(page, '[data-testid="feed"]'), POLL).toContain('node-a-5');
    proxy.replace(b);
    const fromNow = page.getByRole('button', { name: 'Follow from now' });
    await fromNow.waitFor({ timeout: 30_000 });
    await fromNow.click();
    await expect.poll(() => page.getByTestId('feed-status').getAttribute('data-state'), POLL).toBe('live');
    expect(await page.locator('[data-testid="feed"] tbody tr').count()).toBe(0);
    expect(await page.getByLabel('Replay the history first').isChecked()).toBe(false);
    await register(b, 'b-9');
    await expect.poll(() => textOf(page, '[data-testid="feed"]'), POLL).toContain('node-b-9');
  }, 120_000);
});
