/**
 * Review 212: the console's event stream said "Live" over a dead connection and "Connecting…" for ever over one that
 * never opened. Behind a TCP proxy that stopped passing the /v1/events bytes without closing, the feed still read
 * "Live: following the event stream." 40 s later, and an event recorded meanwhile never appeared; with /v1/events
 * never answered, "Connecting to the event stream…" after 75 s. Now silence past STREAM_SILENCE_MS (heartbeats
 * reset it) is a dropped connection, reconnected with Last-Event-ID, and the time until the headers arrive is
 * bounded by REQUEST_TIMEOUT_MS, backing off after it; the status line says which. The page's clock is Playwright's
 * (it runs at the real pace until a test moves it on), so the minute-long bounds pass at once.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { postCommand } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';

const POLL = { timeout: 20_000, interval: 100 };
const ONE_EVENT = 'retry: 1000\nid: 41\nevent: NodeRegistered\ndata: {"streamId":"node-meter-9"}\n\n';

/**
 * A TCP proxy in front of the service, as the reviewer's: it passes every byte both ways until `stall()`, which makes
 * the connections then carrying GET /v1/events pass nothing more, without closing them (a proxy or a NAT that lost
 * the connection); connections opened after pass again.
 */
const tcpProxy = async (target: string): Promise<{ url: string; stall: () => number; close: () => Promise<void> }> => {
  const { hostname, port } = new URL(target);
  const eventStreams = new Set<Socket>();
  const stalled = new Set<Socket>();
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(port), hostname);
    sockets.add(client).add(upstream);
    client.on('data', (chunk: Buffer) => {
      if (stalled.has(client)) return;
      if (chunk.toString('latin1').includes('GET /v1/events')) eventStreams.add(client);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!stalled.has(client)) client.write(chunk);
    });
    const end = (): void => {
      eventStreams.delete(client);
      stalled.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    stall: () => {
      for (const socket of eventStreams) stalled.add(socket);
      return eventStreams.size;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};

describe.skipIf(!hasChromium())('the console event stream over a connection that goes silent or never opens', () => {
  // Heartbeats every second, as behind the reviewer's proxy: a live stream is never silent for long.
  const world = useConsoleWorld(async () => {}, { config: { limits: { sseHeartbeatMs: 1_000 } } });
  let proxy: Awaited<ReturnType<typeof tcpProxy>>;
  beforeAll(async () => {
    proxy = await tcpProxy(world.svc.url);
  });
  afterAll(async () => {
    await proxy?.close();
  });

  const status = (page: Page) => page.getByTestId('feed-status');

  it('says the server went silent, reconnects, and shows the event recorded meanwhile', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, proxy.url);
    try {
      await page.clock.install();
      await signIn(page, world.svc.tokens.auditor, '#/feed');
      await expect.poll(() => status(page).getAttribute('data-state'), POLL).toBe('live');
      // A heartbeat or two through the proxy, then nothing more on that connection.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(proxy.stall()).toBeGreaterThan(0);
      await postCommand(world.svc, 'createSubscription', {
        subscriptionId: 'silent-proxy',
        subscriber: 'Recorded while the proxy passed nothing',
        notBefore: new Date(Date.now() - 86_400_000).toISOString(),
        notAfter: new Date(Date.now() + 86_400_000).toISOString(),
      });
      // The minute of silence passes at once on the page's clock; a live connection would have had 60 heartbeats.
      await page.clock.fastForward(61_000);
      await expect.poll(() => status(page).textContent(), POLL).toContain('no word from the server for 60 s');
      expect(await status(page).getAttribute('data-state')).not.toBe('live');
      // The reconnect (after the server's retry hint) resumes after the last event id: the event comes.
      await expect
        .poll(async () => {
          await page.clock.fastForward(1_000);
          return page.getByTestId('feed').textContent();
        }, POLL)
        .toContain('subscription-silent-proxy');
      await expect.poll(() => status(page).getAttribute('data-state'), POLL).toBe('live');
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('gives up on a connection whose answer never comes, says so, and backs off', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    let calls = 0;
    try {
      await page.clock.install();
      // The first two requests are taken and never answered; the third is.
      await page.route(
        (url) => url.pathname === '/v1/events',
        (route) => (++calls <= 2 ? undefined : route.fulfill({ status: 200, contentType: 'text/event-stream', body: ONE_EVENT })),
      );
      await signIn(page, world.svc.tokens.auditor, '#/feed');
      await expect.poll(() => calls, POLL).toBe(1);
      expect(await status(page).textContent()).toContain('Connecting to the event stream');
      await page.clock.fastForward(61_000);
      await expect.poll(() => status(page).textContent(), POLL).toContain('the server did not answer within 60 s');
      expect(await status(page).getAttribute('data-state')).toBe('reconnecting');
      // The first wait is a second; after the second connection also times out, two.
      await page.clock.fastForward(1_000);
      await expect.poll(() => calls, POLL).toBe(2);
      await page.clock.fastForward(61_000);
      await expect.poll(() => status(page).textContent(), POLL).toMatch(/did not answer within 60 s.*reconnecting in 2 s/);
      await page.clock.fastForward(2_000);
      await expect.poll(() => page.getByTestId('feed').textContent(), POLL).toContain('node-meter-9');
      expect(calls).toBe(3);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
