/**
 * Review 300: an entity's page read its entity, timeline and dependents once and said "Now <state>" for ever: an
 * auditor's page kept "Now provisioned" five seconds after an operator revoked the credential. The page now follows the
 * event stream and reads them again on an event of the entity or of a dependent shown; where it holds no stream (the
 * server refuses it to the role, or it is interrupted) its heading says "As read at HH:MM" with Read again.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { postCommand, seedConsoleFleet } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';

const POLL = { timeout: 20_000, interval: 100 };
const head = async (page: Page): Promise<string> => ((await page.locator('.entity-head').textContent()) ?? '').replace(/\s+/g, ' ');
const rows = (page: Page) => page.locator('table.timeline tbody tr').count();

describe.skipIf(!hasChromium())('an entity page and the event stream', () => {
  const world = useConsoleWorld(seedConsoleFleet);

  it('reads the credential, its timeline and dependents again when it is revoked, without a reload', async () => {
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens.auditor, '#/entity/credential/meter-2-service');
      await expect.poll(() => head(page), POLL).toContain('Now');
      await expect.poll(() => page.locator('.entity-head').getAttribute('data-following'), POLL).toBe('live');
      const before = await rows(page);
      expect(await head(page)).not.toContain('revoked');
      await postCommand(world.svc, 'revokeCredential', { credentialId: 'meter-2-service', reason: 'keyCompromise' });
      await expect.poll(() => head(page), POLL).toContain('Now revoked');
      await expect.poll(() => rows(page), POLL).toBeGreaterThan(before);
      // Its association, shown as depending on it, is read again after the cascade revoked it.
      await expect.poll(() => page.getByTestId('graph').locator('li li .badge.state-revoked').count(), POLL).toBeGreaterThan(0);
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('says "As read at" with Read again where the role is refused the stream, and reads again when asked', async () => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      const reads: string[] = [];
      page.on('request', (request) => {
        if (new URL(request.url()).pathname === '/v1/entities/credential/meter-4-service') reads.push(request.url());
      });
      await signIn(page, world.svc.tokens.admin, '#/entity/credential/meter-4-service');
      await expect.poll(() => head(page), POLL).toMatch(/As read at \d\d:\d\d/);
      expect(await head(page)).not.toContain('Now');
      const asked = reads.length;
      await page.locator('.entity-head').getByRole('button', { name: 'Read again' }).click();
      await expect.poll(() => reads.length, POLL).toBeGreaterThan(asked);
      await expect.poll(() => head(page), POLL).toMatch(/As read at \d\d:\d\d/);
    } finally {
      await context.close();
    }
  });

  it('says "As read at" while the stream is interrupted', async () => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      await page.route((url) => url.pathname === '/v1/events', (route) =>
        route.fulfill({ status: 503, headers: { 'content-type': 'application/problem+json' }, body: JSON.stringify({ type: 'about:blank', title: 'Service Unavailable', status: 503 }) }),
      );
      await signIn(page, world.svc.tokens.auditor, '#/entity/credential/meter-1-service');
      await expect.poll(() => head(page), POLL).toMatch(/As read at \d\d:\d\d/);
      expect(await page.locator('.entity-head').getByRole('button', { name: 'Read again' }).count()).toBe(1);
    } finally {
      await context.close();
    }
  });
});
