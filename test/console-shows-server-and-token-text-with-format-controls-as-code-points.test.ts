/**
 * Review 223, finding 4: text from the server (a problem's title and detail, a live event's type and stream) or from
 * the token (its subject) was shown as it came, so a right-to-left override (U+202E) in it made the rest read
 * reversed. It is shown as the tables show free text: each format or control character as its code point.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { settled } from './http-sse.fixtures.ts';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { postCommand } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';
import { profile } from './support/fleet.ts';

const POLL = { timeout: 20_000, interval: 100 };
const RLO = '\u202E';
const SHOWN = '\\u{202E}';

const alerts = (page: Page) => async (): Promise<string> => (await page.locator('[role="alert"]').allTextContents()).join(' ');

const problem = (status: number, title: string, detail: string) => ({
  status,
  headers: { 'content-type': 'application/problem+json', ...(status === 503 ? { 'retry-after': '9' } : {}) },
  body: JSON.stringify({ type: 'about:blank', title, status, detail }),
});

describe.skipIf(!hasChromium())('text from the server or the token with a right-to-left override', () => {
  const world = useConsoleWorld(async (svc) => {
    await postCommand(svc, 'registerNode', { nodeId: 'meter-1', profile });
    await settled(svc);
  });

  for (const [status, title] of [[403, 'Forbidden'], [404, 'Not Found'], [503, 'Service Unavailable']] as const) {
    it(`a ${status}'s title and detail`, async () => {
      const { context, page } = await openConsole(world.browser, world.svc.url);
      try {
        await page.route(/\/v1\/entities\/node\/meter-1$/, (route) => route.fulfill(problem(status, `${title} ${RLO}eno`, `case ${RLO}7-eno`)));
        await signIn(page, world.svc.tokens.auditor, '#/entity/node/meter-1');
        await expect.poll(alerts(page), POLL).toContain(`case ${SHOWN}7-eno`);
        expect(await alerts(page)()).not.toContain(RLO);
        if (status !== 403) expect(await alerts(page)()).toContain(`${title} ${SHOWN}eno`);
      } finally {
        await context.close();
      }
    });
  }

  it("a live event's type and stream", async () => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      const frames = `id: 41\nevent: Node${RLO}Registered\ndata: {"streamId":"node-meter-${RLO}9","metadata":{"occurredAt":"2026-01-01T00:00:00Z"}}\n\n`;
      await page.route('**/v1/events**', (route) => route.fulfill({ status: 200, contentType: 'text/event-stream', body: frames }));
      await signIn(page, world.svc.tokens.auditor, '#/feed');
      await expect.poll(() => page.getByTestId('feed').textContent(), POLL).toContain(`node-meter-${SHOWN}9`);
      const feed = (await page.getByTestId('feed').textContent()) ?? '';
      expect(feed).toContain(`Node${SHOWN}Registered`);
      expect(feed).not.toContain(RLO);
    } finally {
      await context.close();
    }
  });

  it("the token's subject", async () => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      // This server issues no such subject (letters, digits and . _ : @ - only), but the console shows the claim as the
      // token holds it, before and whatever the server checks: a token of another issuer, answered here by a stand-in.
      const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const token = `${part({ alg: 'EdDSA', typ: 'JWT' })}.${part({ sub: `ops-${RLO}nimda`, role: 'auditor', exp: Math.floor(Date.now() / 1000) + 3600 })}.c2ln`;
      await page.route('**/v1/**', (route) => route.fulfill(problem(403, 'Forbidden', 'not for this test')));
      await signIn(page, token, '#/overview');
      const who = (await page.getByTestId('who').textContent()) ?? '';
      expect(who).toContain(`ops-${SHOWN}nimda`);
      expect(who).not.toContain(RLO);
    } finally {
      await context.close();
    }
  });
});
