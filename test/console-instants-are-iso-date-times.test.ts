/**
 * Found in review: the console took a timeline entry's occurredAt as any text. 'yesterday' made the time slider's
 * range NaN, `new Date(NaN).toISOString()` threw inside render(), and the entity page stayed on "Loading the
 * timeline…" for good. Every instant the console does date arithmetic on (occurredAt, the state's asOf.occurredAt)
 * must now be an ISO 8601 date-time; another answer is the usual "not what this console expects" error naming the
 * field. Chromium's request interception stands in for a server that answers otherwise.
 */
import type { Page, Route } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { useConsoleWorld } from './support/console-world.ts';
import { postCommand } from './support/console-fleet.ts';
import { profile } from './support/fleet.ts';

const POLL = { timeout: 20_000, interval: 100 };
const BASE = '/v1/entities/node/meter-9';
const json = (body: unknown) => (route: Route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(body) });
const entry = (occurredAt: string) => ({
  position: '1',
  revision: '0',
  type: 'NodeRegistered',
  occurredAt,
  actor: { id: 'operator:demo', role: 'operator' },
  commandType: 'registerNode',
  signature: { status: 'unsigned' },
});

describe.skipIf(!hasChromium())('the console reads instants as ISO 8601 date-times', () => {
  const world = useConsoleWorld(async (s) => {
    await postCommand(s, 'registerNode', { nodeId: 'meter-9', profile });
  });

  const withEntityPage = async (intercept: (page: Page) => Promise<unknown>, check: (page: Page) => Promise<void>): Promise<void> => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await intercept(page);
      await signIn(page, world.svc.tokens.auditor, '#/entity/node/meter-9');
      await check(page);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  };
  const alerts = (page: Page) => () => page.getByRole('alert').allTextContents().then((t) => t.join(' | '));

  it.each(['yesterday', '2026-13-01T00:00:00Z', '2026-01-01'])('refuses a timeline whose occurredAt is %s, naming the field, instead of hanging', async (occurredAt) => {
    await withEntityPage(
      (page) => page.route((url) => url.pathname === `${BASE}/timeline`, json({ entries: [entry(occurredAt)] })),
      async (page) => {
        // Its first page: the page never asks for the whole timeline (test/console-pages-a-long-timeline.test.ts).
        await expect.poll(alerts(page), POLL).toContain(`The server's answer to ${BASE}/timeline?limit=100 is not what this console expects`);
        expect(await alerts(page)()).toContain('entries.0.occurredAt: must be an ISO 8601 date-time');
        expect(await page.getByText('Loading the timeline').count()).toBe(0);
      },
    );
  });

  it('refuses a state whose asOf.occurredAt is not a date-time, naming the field', async () => {
    await withEntityPage(
      (page) =>
        page.route(
          (url) => url.pathname === `${BASE}/state`,
          json({ at: '2026-01-01T00:00:00Z', state: 'registered', asOf: { position: '1', revision: '0', type: 'NodeRegistered', occurredAt: 'yesterday' }, events: 1 }),
        ),
      async (page) => {
        await expect.poll(alerts(page), POLL).toContain(`The server's answer to ${BASE}/state?at=`);
        expect(await alerts(page)()).toContain('asOf.occurredAt: must be an ISO 8601 date-time');
        // The real timeline still renders, with its slider.
        expect(await page.getByTestId('instant').textContent()).toMatch(/^\d{4}-\d{2}-\d{2}T/);
      },
    );
  });
});
