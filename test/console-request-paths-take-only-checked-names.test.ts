/**
 * Found in review: a compliance query name from the catalog, and the credential ids read from an entity's context
 * (predecessorId, successorId, credentialId), went into request paths unchecked: `..` there (which
 * encodeURIComponent leaves, and the URL parser collapses) sent the user's token to GET /v1/ or /v1/entities/. Each
 * is now checked before any request (a query name against /^[a-z][a-z-]{0,63}$/, an id against the router's entity id
 * pattern) and refused as an answer the console does not expect, naming the field. Chromium's request interception
 * stands in for the server.
 */
import type { Page, Route } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { useConsoleWorld } from './support/console-world.ts';

const POLL = { timeout: 20_000, interval: 100 };
const json = (body: unknown) => (route: Route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(body) });

describe.skipIf(!hasChromium())('the console puts only checked names into request paths', () => {
  const world = useConsoleWorld();

  /** Signed in as the auditor at `hash`, with `intercept` installed first; every API path the page asked for, in order. */
  const withPage = async (hash: string, intercept: (page: Page) => Promise<unknown>, check: (page: Page, asked: readonly string[]) => Promise<void>): Promise<void> => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    const asked: string[] = [];
    page.on('request', (request) => {
      const path = new URL(request.url()).pathname;
      if (path.startsWith('/v1/')) asked.push(path);
    });
    try {
      await intercept(page);
      await signIn(page, world.svc.tokens.auditor, hash);
      await check(page, asked);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  };
  const alerts = (page: Page) => () => page.getByRole('alert').allTextContents().then((t) => t.join(' | '));

  it.each(['..', 'Expiring', 'expiring/../../replay'])('refuses a compliance catalog naming the query %s, before running it', async (name) => {
    await withPage(
      '#/compliance',
      (page) => page.route((url) => url.pathname === '/v1/compliance', json({ queries: [{ name, summary: 'a query', params: [] }] })),
      async (page, asked) => {
        await expect.poll(alerts(page), POLL).toContain("The server's answer to /v1/compliance is not what this console expects");
        expect(await alerts(page)()).toContain('queries.0.name: must be a query name');
        expect(await page.getByRole('button', { name: 'Run query' }).count()).toBe(0);
        // The sign-in's own check and the catalog (both GET /v1/compliance), and nothing else.
        expect(asked.filter((p) => p !== '/v1/compliance')).toEqual([]);
      },
    );
  });

  it.each([
    ['credential', 'predecessorId'],
    ['credential', 'successorId'],
    ['association', 'credentialId'],
  ] as const)('refuses an entity (%s) whose context names its %s as .., before reading it', async (kind, field) => {
    const base = `/v1/entities/${kind}/linked-1`;
    await withPage(
      `#/entity/${kind}/linked-1`,
      async (page) => {
        await page.route((url) => url.pathname === base, json({ streamId: `${kind}-linked-1`, kind, id: 'linked-1', state: 'active', revision: '0', position: '1', updatedAt: '2026-01-01T00:00:00Z', context: { [field]: '..' } }));
        await page.route((url) => url.pathname === `${base}/timeline`, json({ entries: [] }));
        await page.route((url) => url.pathname === `${base}/dependents`, json({ root: { streamId: `${kind}-linked-1`, kind, id: 'linked-1' }, dependents: [], limit: 1000, truncated: false }));
      },
      async (page, asked) => {
        await expect.poll(alerts(page), POLL).toContain(`Could not load the dependency graph. The server's answer to ${base} is not what this console expects`);
        expect(await alerts(page)()).toContain(`context.${field}: must be an entity id`);
        // The sign-in's own check (GET /v1/compliance), the entity's reads, the event stream it follows (review 300),
        // and nothing else.
        expect(asked.filter((p) => p !== '/v1/compliance' && p !== '/v1/events' && !p.startsWith(base))).toEqual([]);
      },
    );
  });
});
