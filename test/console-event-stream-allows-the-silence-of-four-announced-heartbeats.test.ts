/**
 * The server announces its heartbeat interval in a stream's opening (`: heartbeat-ms N`, adapters/http/sse/frame.ts
 * frameHeartbeatInterval), and the CLI's client allows four of them (review 358). The console did not read it: with
 * `limits.sseHeartbeatMs` at 90 s, every healthy stream was taken for lost after its quiet minute and made again. Now
 * the console allows the silence of four announced heartbeats (never less than its STREAM_SILENCE_MS), taken from the
 * opening only, as the CLI does (the same code: domain/heartbeat-announcement.ts). The page's clock is Playwright's,
 * moved on past the service's heartbeats, which come at the real pace.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { useConsoleWorld } from './support/console-world.ts';

const POLL = { timeout: 20_000, interval: 100 };

const status = (page: Page) => page.getByTestId('feed-status');

/** Gives the page's own work (its timers fired by a fastForward, a reconnect's fetch) real time to happen. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1_000));

describe.skipIf(!hasChromium())('the console event stream of a server whose heartbeats are 90 s apart', () => {
  // Heartbeats 90 s apart (a connection timeout above them, as the configuration check asks): none comes in the test.
  const world = useConsoleWorld(async () => {}, { config: { limits: { sseHeartbeatMs: 90_000, connectionTimeoutMs: 120_000 } } });

  it('keeps a stream quiet for 70 s, and makes it again once quiet past four heartbeats (360 s)', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    let streams = 0;
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/v1/events') streams += 1;
    });
    try {
      await page.clock.install();
      await signIn(page, world.svc.tokens.auditor, '#/feed');
      await expect.poll(() => status(page).getAttribute('data-state'), POLL).toBe('live');
      expect(streams).toBe(1);
      // Past the console's own minute, well within four announced heartbeats: the stream is healthy, and kept.
      await page.clock.fastForward(70_000);
      await settle();
      expect(await status(page).textContent()).not.toContain('no word from the server');
      expect(await status(page).getAttribute('data-state')).toBe('live');
      expect(streams).toBe(1);
      // Quiet past four of them (361 s since it opened): a connection lost, made again after the server's retry hint.
      await page.clock.fastForward(291_000);
      await expect.poll(() => status(page).textContent(), POLL).toContain('no word from the server for 6 min');
      await expect
        .poll(async () => {
          await page.clock.fastForward(1_000);
          return streams;
        }, POLL)
        .toBe(2);
      await expect.poll(() => status(page).getAttribute('data-state'), POLL).toBe('live');
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

/**
 * A stand-in for the service's /v1/events: it sends `opening`, then nothing more, holding the connection open. The
 * page's requests to /v1/events are routed to it (the console and its sign-in are the real service's).
 */
const standIn = async (opening: string): Promise<{ url: string; close: () => Promise<void> }> => {
  const held = new Set<ServerResponse>();
  const server: Server = createServer((_request, response) => {
    held.add(response);
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    response.write(opening);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the stand-in has no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: async () => {
      for (const response of held) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};

describe.skipIf(!hasChromium())('the console event stream and an announcement that is not in the opening', () => {
  const world = useConsoleWorld();
  let server: Awaited<ReturnType<typeof standIn>>;
  beforeAll(async () => {
    // An event first, then the "announcement": past the opening, a comment like any other (review 361).
    server = await standIn('retry: 1000\nid: 41\n\nid: 42~0a1b2c3d\nevent: NodeRegistered\ndata: {"streamId":"node-meter-7"}\n\n: heartbeat-ms 90000\n\n');
  });
  afterAll(async () => {
    await server?.close();
  });

  it('is still given up after the console’s minute of silence', async () => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      await page.route(
        (url) => url.pathname === '/v1/events',
        (route) => route.continue({ url: `${server.url}/v1/events` }),
      );
      await page.clock.install();
      await signIn(page, world.svc.tokens.auditor, '#/feed');
      await expect.poll(() => page.getByTestId('feed').textContent(), POLL).toContain('node-meter-7');
      expect(await status(page).getAttribute('data-state')).toBe('live');
      await page.clock.fastForward(61_000);
      await expect.poll(() => status(page).textContent(), POLL).toContain('no word from the server for 60 s');
    } finally {
      await context.close();
    }
  });
});
