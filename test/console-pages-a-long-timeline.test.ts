/**
 * Found in review: the entity page read an entity's whole timeline and the entity itself in one request each. The
 * service now refuses both for an entity of more than `limits.maxEntityEvents` events (422 `entity_too_long`), so an
 * entity with a long history showed only that error. The page now reads the timeline in pages of 100 (`limit`,
 * `after`, `nextAfter`) with **Load more events**, and says of an entity too long to rebuild that it is, above its
 * paged timeline. The bound is 110 here, so that the test needs hundreds of events, not ten thousand.
 */
import type { Page, Request } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { settled } from './http-sse.fixtures.ts';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { postCommand } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';
import { issueCredentialData, profile } from './support/fleet.ts';
import type { TestService } from './support/service.ts';

const POLL = { timeout: 30_000, interval: 100 };
const DAY = 86_400_000;
const MAX_ENTITY_EVENTS = 110;
const PAGE = 100;
const iso = (offsetMs: number): string => new Date(Date.now() + offsetMs).toISOString();
const revisions = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

/**
 * Node n1 with 60 security associations established and revoked, each adding NodeAssociated and
 * NodeAssociationReleased to its stream (2 + 120 = 122 events: past the bound), the first 54 with credential c1
 * (2 + 108 = 110 events: within the bound, more than a page), the rest with c2.
 */
const seed = async (svc: TestService): Promise<void> => {
  await postCommand(svc, 'createSubscription', { subscriptionId: 's1', subscriber: 'City Utilities', notBefore: iso(-DAY), notAfter: iso(365 * DAY) });
  await postCommand(svc, 'registerNode', { nodeId: 'n1', profile });
  await postCommand(svc, 'enrolNode', { nodeId: 'n1', subscriptionId: 's1', cseId: '/cse-n1' });
  for (const credentialId of ['c1', 'c2']) {
    await postCommand(svc, 'issueCredential', issueCredentialData(credentialId, 'n1', { notBefore: iso(-DAY), notAfter: iso(90 * DAY) }));
    await postCommand(svc, 'provisionCredential', { credentialId, method: 'pre-provisioning' });
  }
  for (let i = 0; i < 60; i++) {
    const associationId = `a${i}`;
    await postCommand(svc, 'configureAssociation', {
      associationId,
      nodeId: 'n1',
      credentialId: i < 54 ? 'c1' : 'c2',
      registree: { kind: 'cse', id: '/cse-n1' },
      registrarCseId: '/in-cse',
    });
    await postCommand(svc, 'establishAssociation', { associationId, expiresAt: iso(5 * DAY) });
    await postCommand(svc, 'revokeAssociation', { associationId, reason: 'superseded' });
  }
  await settled(svc);
};

/** Every timeline request the page makes: none may ask for the whole timeline. */
const timelineRequests = (page: Page): string[] => {
  const seen: string[] = [];
  page.on('request', (request: Request) => {
    const url = new URL(request.url());
    if (url.pathname.endsWith('/timeline')) seen.push(`${url.pathname}${url.search}`);
  });
  return seen;
};

/** The first page, then the one after it; never the whole timeline (a read again while behind would page too). */
const expectPagedReads = (requests: readonly string[], path: string): void => {
  expect(requests.slice(0, 2)).toEqual([`${path}?limit=${PAGE}`, `${path}?limit=${PAGE}&after=${PAGE - 1}`]);
  for (const request of requests) expect(request).toMatch(new RegExp(`^${path}\\?limit=${PAGE}(&after=\\d+)?$`));
};

const shownRevisions = (page: Page): Promise<string[]> => page.locator('table.timeline tbody tr td:first-child').allTextContents();
const shownTypes = (page: Page): Promise<string[]> => page.locator('table.timeline tbody tr td:nth-child(4)').allTextContents();
const storedTypes = async (svc: TestService, streamId: string): Promise<string[]> =>
  (await svc.service.context.credence.store.readStream(streamId)).map((e) => e.type);

describe.skipIf(!hasChromium())('the console pages a long timeline', () => {
  const world = useConsoleWorld(seed, { config: { limits: { maxEntityEvents: MAX_ENTITY_EVENTS } } });

  it('shows the first page of an entity longer than a page, and loads the next events in order, without duplicates', async () => {
    const stored = await storedTypes(world.svc, 'credential-c1');
    expect(stored).toHaveLength(MAX_ENTITY_EVENTS);
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    const requests = timelineRequests(page);
    try {
      await signIn(page, world.svc.tokens.auditor, '#/entity/credential/c1');
      await expect.poll(() => shownRevisions(page), POLL).toEqual(revisions(0, PAGE - 1));
      expect(await shownTypes(page)).toEqual(stored.slice(0, PAGE));
      expect(await page.getByTestId('timeline-shown').textContent()).toBe(`${PAGE} events shown, revisions 0 to ${PAGE - 1}; more follow.`);
      // Within the bound, the entity itself is shown as before.
      expect(await page.locator('.entity-head').textContent()).toContain('Now');
      expect(await page.getByTestId('entity-too-long').count()).toBe(0);

      await page.getByRole('button', { name: 'Load more events' }).click();
      await expect.poll(() => shownRevisions(page), POLL).toEqual(revisions(0, MAX_ENTITY_EVENTS - 1));
      expect(await shownTypes(page)).toEqual(stored);
      expect(await page.getByTestId('timeline-shown').textContent()).toBe(`${MAX_ENTITY_EVENTS} events shown, revisions 0 to ${MAX_ENTITY_EVENTS - 1}.`);
      expect(await page.getByRole('button', { name: 'Load more events' }).count()).toBe(0);

      expectPagedReads(requests, '/v1/entities/credential/c1/timeline');
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('reads a page again that was read while the read models were behind (found in review 42)', async () => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    const requests = timelineRequests(page);
    // The second page answers as read models three events behind would, once.
    let behindOnce = true;
    await page.route(/\/v1\/entities\/credential\/c1\/timeline\?limit=100&after=99$/, async (route) => {
      const response = await route.fetch();
      const headers = behindOnce ? { ...response.headers(), 'credence-events-behind': '3' } : response.headers();
      behindOnce = false;
      await route.fulfill({ response, headers });
    });
    try {
      await signIn(page, world.svc.tokens.auditor, '#/entity/credential/c1');
      await expect.poll(() => shownRevisions(page), POLL).toEqual(revisions(0, PAGE - 1));
      await page.getByRole('button', { name: 'Load more events' }).click();
      await expect.poll(() => page.getByTestId('events-behind').count(), POLL).toBe(1);
      // Read again (where the timeline ends), and the notice goes once the answer is no longer behind.
      await expect.poll(() => requests.length, POLL).toBeGreaterThan(2);
      await expect.poll(() => page.getByTestId('events-behind').count(), POLL).toBe(0);
      expect(await shownRevisions(page)).toEqual(revisions(0, MAX_ENTITY_EVENTS - 1));
      expectPagedReads(requests, '/v1/entities/credential/c1/timeline');
    } finally {
      await context.close();
    }
  });

  it('says an entity is too long to show whole, and still shows its timeline page by page', async () => {
    const stored = await storedTypes(world.svc, 'node-n1');
    expect(stored).toHaveLength(122);
    const { context, page, cspViolations } = await openConsole(world.browser, world.svc.url);
    const requests = timelineRequests(page);
    const stateRequests: string[] = [];
    page.on('request', (request) => {
      if (new URL(request.url()).pathname.endsWith('/state')) stateRequests.push(request.url());
    });
    try {
      await signIn(page, world.svc.tokens.auditor, '#/entity/node/n1');
      const notice = page.getByTestId('entity-too-long');
      await expect.poll(() => notice.count(), POLL).toBe(1);
      const said = ((await notice.textContent()) ?? '').replace(/\s+/g, ' ');
      expect(said).toContain('Too long to show whole.');
      expect(said).toContain(`node-n1 holds 122 events, more than the ${MAX_ENTITY_EVENTS} the server rebuilds in one request`);
      expect(said).toContain('Its timeline is still browsable below, page by page');
      // The refusal is the notice, not a bare error.
      expect(await page.getByText('Could not load node-n1').count()).toBe(0);

      await expect.poll(() => shownRevisions(page), POLL).toEqual(revisions(0, PAGE - 1));
      expect(await shownTypes(page)).toEqual(stored.slice(0, PAGE));
      await page.getByRole('button', { name: 'Load more events' }).click();
      await expect.poll(() => shownRevisions(page), POLL).toEqual(revisions(0, 121));
      expect(await shownTypes(page)).toEqual(stored);
      expect(await page.getByRole('button', { name: 'Load more events' }).count()).toBe(0);

      // What depends on it is read all the same; the state at an instant, refused as the entity is, is not asked for.
      await expect.poll(() => page.getByTestId('graph').textContent(), POLL).toContain('association-a59');
      expect(await page.locator('#instant').count()).toBe(0);
      expect(stateRequests).toEqual([]);
      expectPagedReads(requests, '/v1/entities/node/n1/timeline');
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
