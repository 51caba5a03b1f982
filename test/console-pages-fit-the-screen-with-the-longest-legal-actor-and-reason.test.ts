/**
 * Review 322: a token subject of 128 characters (TokenSubject's bound), the actor of every command sent with the
 * token, widened the overview to 1905 px at 1366×768 (the Actor cell of "Recently revoked" kept its width); a
 * subscription's termination reason of 200 printable characters with no space (SubscriptionTerminated's bound) made
 * its entity page 2248 px wide. Every place such an actor or reason is shown must keep the page within the viewport.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { postCommand } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';
import { issueCredentialData, profile } from './support/fleet.ts';
import type { TestService } from './support/service.ts';

const POLL = { timeout: 20_000, interval: 100 };
const DAY = 86_400_000;
/** 128 characters, the most a token subject may have (adapters/http/auth/token-ids.ts), with no place a line may break. */
const SUBJECT = `operator.${'o'.repeat(119)}`;
/** 200 printable characters, the most a termination reason may have (domain/events/subscription.ts), none a space. */
const REASON = `ended-${'x'.repeat(194)}`;
const NODE = 'meter-long-actor';
const REVOKED = 'cred-revoked-by-long-actor';
const SUBSCRIPTION = 'sub-long-reason';

/** The document's width, read in the page (a string: the tests' types have no DOM). */
const scrollWidth = (page: Page): Promise<number> => page.evaluate('document.documentElement.scrollWidth');

/** An operator token for SUBJECT, issued by the admin as a client would (POST /v1/tokens). */
const issueToken = async (svc: TestService): Promise<string> => {
  const response = await fetch(`${svc.url}/v1/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${svc.tokens.admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ subject: SUBJECT, role: 'operator', ttl: '1d' }),
  });
  const body = (await response.json()) as { token?: string };
  if (response.status !== 201 || body.token === undefined) throw new Error(`token refused: ${response.status} ${JSON.stringify(body)}`);
  return body.token;
};

/** A command sent with `token`: its actor is the token's subject. */
const postWith = async (svc: TestService, token: string, type: string, data: Record<string, unknown>): Promise<void> => {
  const response = await fetch(`${svc.url}/v1/commands`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ type, data }),
  });
  if (!response.ok) throw new Error(`${type} refused: ${response.status} ${await response.text()}`);
};

describe.skipIf(!hasChromium())('the console at 1366×768 with an actor and a reason of the longest legal length', () => {
  let token = '';
  const world = useConsoleWorld(async (svc) => {
    token = await issueToken(svc);
    const validity = { notBefore: new Date().toISOString(), notAfter: new Date(Date.now() + 20 * DAY).toISOString() };
    await postCommand(svc, 'registerNode', { nodeId: NODE, profile });
    await postCommand(svc, 'issueCredential', issueCredentialData(REVOKED, NODE, validity));
    await postWith(svc, token, 'revokeCredential', { credentialId: REVOKED, reason: 'keyCompromise' });
    await postCommand(svc, 'createSubscription', {
      subscriptionId: SUBSCRIPTION, subscriber: 'Long Reasons Ltd', notBefore: new Date(Date.now() - DAY).toISOString(), notAfter: new Date(Date.now() + 365 * DAY).toISOString(),
    });
    await postWith(svc, token, 'terminateSubscription', { subscriptionId: SUBSCRIPTION, reason: REASON });
  });

  it('keeps the header, the overview, the entity page and the live events within the viewport', async () => {
    expect([SUBJECT.length, REASON.length]).toEqual([128, 200]);
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    const widths: Record<string, number> = {};
    try {
      // Signed in with the long subject's own token: the header names it.
      await signIn(page, token, '#/overview');
      await expect.poll(() => page.getByTestId('who').textContent(), POLL).toContain(SUBJECT);
      const revoked = page.locator('section[aria-labelledby="revoked-heading"]');
      await expect.poll(() => revoked.locator('tbody td:nth-child(4)').first().textContent(), POLL).toBe(SUBJECT);
      widths.overview = await scrollWidth(page);

      await page.goto(`${world.svc.url}/#/entity/subscription/${SUBSCRIPTION}`);
      const reasons = page.locator('table.timeline tbody td:nth-child(7)');
      await expect.poll(() => reasons.allTextContents(), POLL).toContain(REASON);
      widths.subscription = await scrollWidth(page);

      await page.goto(`${world.svc.url}/#/entity/credential/${REVOKED}`);
      await expect.poll(() => page.locator('table.timeline tbody td:nth-child(5)').allTextContents(), POLL).toEqual(expect.arrayContaining([expect.stringContaining(SUBJECT)]));
      widths.credential = await scrollWidth(page);

      await page.goto(`${world.svc.url}/#/feed`);
      await page.getByLabel('Replay the history first').check();
      const feed = page.getByTestId('feed');
      await expect.poll(() => feed.getByText(`${SUBJECT} (operator)`).count(), POLL).toBeGreaterThanOrEqual(2);
      widths.feed = await scrollWidth(page);

      const viewport = page.viewportSize()!.width;
      expect(Object.entries(widths).filter(([, width]) => width > viewport)).toEqual([]);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
