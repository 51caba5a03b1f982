/**
 * Issue 14 left: API answers were typed but not parsed in the browser. Every answer a console page reads is now
 * parsed by its zod schema (adapters/console/src/schemas.ts); one that does not match is shown as an error naming the
 * request and the field, never rendered. Chromium's request interception stands in for a server (or a proxy) that
 * answers something else; the real answers still render (test/console-browser.test.ts covers every page with them).
 */
import type { Browser, Page, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureConsoleBundle } from './support/console-bundle.ts';
import { hasChromium, launchChromium, openConsole, signIn } from './support/console-browser.ts';
import { postCommand, startConsoleService } from './support/console-fleet.ts';
import { profile } from './support/fleet.ts';
import type { TestService } from './support/service.ts';

const POLL = { timeout: 30_000, interval: 100 };

const json = (body: unknown) => (route: Route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(body) });

describe.skipIf(!hasChromium())('the console parses every API answer it reads (issue 14)', () => {
  let svc: TestService;
  let browser: Browser;

  beforeAll(async () => {
    await ensureConsoleBundle();
    svc = await startConsoleService();
    await postCommand(svc, 'registerNode', { nodeId: 'meter-9', profile });
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await svc?.close();
  });

  /** Signed in as the auditor, with `intercept` installed before the first page loads; CSP violations collected. */
  const withPage = async (hash: string, intercept: (page: Page) => Promise<unknown>, check: (page: Page) => Promise<void>): Promise<void> => {
    const { context, page, cspViolations } = await openConsole(browser, svc.url);
    try {
      await intercept(page);
      await signIn(page, svc.tokens.auditor, hash);
      await check(page);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  };
  const alerts = (page: Page) => () => page.getByRole('alert').allTextContents().then((t) => t.join(' | '));

  it('shows the real counts, and an error naming the request and field when the counts do not match', async () => {
    await withPage('#/overview', async () => undefined, async (page) => {
      await expect.poll(() => page.getByTestId('total-node').first().textContent(), POLL).toBe('1');
    });
    await withPage(
      '#/overview',
      (page) => page.route('**/v1/entities/counts', json({ kinds: { node: { entities: 'four', states: {} } }, total: 4 })),
      async (page) => {
        await expect.poll(alerts(page), POLL).toContain("The server's answer to /v1/entities/counts is not what this console expects");
        expect(await alerts(page)()).toContain('kinds.node.entities');
        expect(await page.getByTestId('total-node').count()).toBe(0);
      },
    );
  });

  it('refuses a timeline entry without its actor, and an answer that is not JSON', async () => {
    await withPage(
      '#/entity/node/meter-9',
      (page) =>
        // The page reads the timeline in pages (`?limit=`): the path is matched without its query.
        page.route((url) => url.pathname === '/v1/entities/node/meter-9/timeline', json({ streamId: 'node-meter-9', entries: [{ position: '1', revision: '0', type: 'NodeRegistered', occurredAt: '2026-01-01T00:00:00Z', commandType: 'registerNode', signature: { status: 'unsigned' } }] })),
      async (page) => {
        await expect.poll(alerts(page), POLL).toContain('/v1/entities/node/meter-9/timeline?limit=100');
        expect(await alerts(page)()).toContain('entries.0.actor');
      },
    );
    await withPage(
      '#/compliance',
      (page) => page.route('**/v1/compliance', (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<html>proxy login</html>' })),
      async (page) => {
        await expect.poll(alerts(page), POLL).toContain("The server's answer to /v1/compliance is not what this console expects (not JSON)");
      },
    );
  });

  it('saves no CSV file from an answer of another content type (a proxy\'s page), and says what came instead', async () => {
    await withPage(
      '#/compliance',
      (page) =>
        page.route('**/v1/compliance/revocations**', (route) =>
          route.request().headers()['accept'] === 'text/csv'
            ? route.fulfill({ status: 200, contentType: 'text/html', body: '<html>proxy login</html>' })
            : route.continue(),
        ),
      async (page) => {
        let downloads = 0;
        page.on('download', () => (downloads += 1));
        await page.getByLabel('Query').selectOption('revocations');
        await page.getByRole('button', { name: 'Run query' }).click();
        await page.getByRole('button', { name: 'Download CSV' }).click();
        await expect.poll(alerts(page), POLL).toContain('Could not download the CSV');
        expect(await alerts(page)()).toContain('answered text/html, not text/csv');
        expect(downloads).toBe(0);
      },
    );
  });

  it('leaves out a live event whose data does not match, and says which', async () => {
    const frames = 'id: 41\nevent: NodeRegistered\ndata: {"streamId":"node-meter-9","metadata":{"occurredAt":"2026-01-01T00:00:00Z"}}\n\n' +
      'id: 42\nevent: NodeRevoked\ndata: {"streamId":17}\n\n';
    await withPage(
      '#/feed',
      (page) => page.route('**/v1/events**', (route) => route.fulfill({ status: 200, contentType: 'text/event-stream', body: frames })),
      async (page) => {
        await expect.poll(() => page.getByTestId('feed-unreadable').textContent(), POLL).toContain('Event 42 (NodeRevoked) is not what this console expects');
        expect(await page.getByTestId('feed-unreadable').textContent()).toContain('streamId');
        await expect.poll(() => page.getByTestId('feed').textContent(), POLL).toContain('node-meter-9');
        expect(await page.getByTestId('feed').textContent()).not.toContain('NodeRevoked');
      },
    );
  });
});
