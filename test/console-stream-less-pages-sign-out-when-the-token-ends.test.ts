/**
 * Review 58: a console page with no event stream (a verification, the compliance forms, an admin's overview; an
 * entity's page until review 300 had it follow the stream) sends no request once it has loaded, so a token that expired or was revoked went unnoticed there, the page still
 * signed in, until the next click. Now the session ends at the token's expiry, and a revocation is found within the
 * check interval (a minute) while the tab is visible. Playwright's clock stands in for the minute: moving it on fires
 * only the timers the page has set, so nothing is waited out.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { Role } from '../adapters/http/context.ts';
import { CHECK_EVERY_MS } from '../adapters/console/src/session-watch.ts';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { useConsoleWorld } from './support/console-world.ts';

const POLL = { timeout: 20_000, interval: 100 };

describe.skipIf(!hasChromium())('a stream-less console page when its token ends', () => {
  const world = useConsoleWorld();

  /** A token of its own (the file's shared ones must stay valid), `ttlSeconds` long. */
  const ownToken = (subject: string, role: Role, ttlSeconds = 600) =>
    world.svc.service.context.access.issue({ subject, role, ttlSeconds, issuedBy: 'test' });
  const revoke = async (tokenId: string): Promise<void> => {
    const response = await fetch(`${world.svc.url}/v1/tokens/${tokenId}`, { method: 'DELETE', headers: { authorization: `Bearer ${world.svc.tokens.admin}` } });
    expect(response.status).toBe(204);
  };

  /**
   * Until the read models the pages read have handled every stored event: a page answered behind reads again by itself
   * (the overview's refresh), and a read after the revocation signs out before the check this file is about (found
   * on a loaded CI machine).
   */
  const caughtUp = async (): Promise<void> => {
    for (const path of ['/v1/entities/counts', '/v1/compliance/revocations?from=2000-01-01T00:00:00Z&limit=1']) {
      await expect
        .poll(async () => (await fetch(`${world.svc.url}${path}`, { headers: { authorization: `Bearer ${world.svc.tokens.admin}` } })).headers.get('credence-events-behind'), POLL)
        .toBe('0');
    }
  };

  /** Signed in on `hash` with `token`, the page's clock Playwright's (at the real time until moved on), its heading shown. */
  const onPage = async (token: string, hash: string, check: (page: Page) => Promise<void>): Promise<void> => {
    await caughtUp();
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await page.clock.install();
      await signIn(page, token, hash);
      await page.locator('main h2').first().waitFor();
      await check(page);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  };
  const signedOut = async (page: Page, saying: string): Promise<void> => {
    // allTextContents answers at once; textContent would wait its own 30 s for an alert that never comes.
    await expect.poll(async () => (await page.locator('p.error[role="alert"]').allTextContents()).join(' '), POLL).toContain(saying);
    expect(await page.getByTestId('who').count()).toBe(0);
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    // Review 181: focus was left on <body>; it goes to the token field, which the reason describes (aria-describedby).
    await expect.poll(() => page.evaluate('document.activeElement?.id'), POLL).toBe('token');
    expect(await page.locator('#token').getAttribute('aria-describedby')).toContain('token-error');
  };

  it('signs out of an entity\'s page when the token expires, not before', async () => {
    const issued = await ownToken('console-expires', 'auditor', 300);
    await onPage(issued.token, '#/entity/node/meter-1', async (page) => {
      const now = await page.evaluate<number>('Date.now()');
      await page.clock.fastForward(issued.expiresAt.getTime() - now - 2_000);
      // Two checks have passed meanwhile, which the server answered: the token was good.
      await page.waitForTimeout(500);
      expect(await page.getByTestId('who').count()).toBe(1);
      await page.clock.fastForward(2_000);
      await signedOut(page, `Signed out: the token expired at ${issued.expiresAt.toISOString()}`);
    });
  });

  it.each([
    ['a verification', 'auditor', '#/verify/node/meter-2'],
    ['the compliance queries', 'auditor', '#/compliance'],
    ['an admin\'s overview (no event stream for the role)', 'admin', '#/overview'],
  ] as const)('signs out of %s within the check interval when the token is revoked', async (_page, role, hash) => {
    const issued = await ownToken(`console-revoked-${role}`, role);
    await onPage(issued.token, hash, async (page) => {
      await revoke(issued.tokenId);
      await page.waitForTimeout(500);
      expect(await page.getByTestId('who').count()).toBe(1);
      await page.clock.fastForward(CHECK_EVERY_MS);
      await signedOut(page, 'Signed out: the server no longer accepts this token');
    });
  });

  it('signs out of an entity\'s page at once when the token is revoked: the event stream it follows is dropped', async () => {
    const issued = await ownToken('console-revoked-entity', 'auditor');
    await onPage(issued.token, '#/entity/node/meter-1', async (page) => {
      await revoke(issued.tokenId);
      await signedOut(page, 'Signed out: the server no longer accepts this token');
    });
  });

  it('keeps an integrator signed in: the check\'s 403 (a read the role may not make) says the token is good', async () => {
    const issued = await ownToken('console-integrator', 'integrator');
    await onPage(issued.token, '#/feed', async (page) => {
      const checks: string[] = [];
      page.on('response', (response) => {
        if (new URL(response.url()).pathname === '/v1/compliance') checks.push(String(response.status()));
      });
      await page.clock.fastForward(CHECK_EVERY_MS);
      await expect.poll(() => checks.length, POLL).toBeGreaterThan(0);
      await page.waitForTimeout(500);
      expect(checks.every((status) => status === '403')).toBe(true);
      expect(await page.getByTestId('who').count()).toBe(1);
    });
  });
});
