/**
 * Review 181: on EventStoreDB the server refuses a whole-stream read of an entity whose stream holds more records than
 * `limits.maxEntityRecords` (fact claims included: one per decision that read it), with `records`, `claims` and
 * `maxRecords` in its 422 `entity_too_long` (adapters/http/routes/entity-bound.ts). The entity page read only `events`
 * and `maxEvents`, and said "holds 1 events, more than the 1". It now says the records and the claims among them.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandIn, type StandIn } from './esdb-standin/index.ts';
import { settled } from './http-sse.fixtures.ts';
import { ensureConsoleBundle } from './support/console-bundle.ts';
import { hasChromium, launchChromium, openConsole, signIn } from './support/console-browser.ts';
import { postCommand, startConsoleService } from './support/console-fleet.ts';
import { profile } from './support/fleet.ts';
import type { TestService } from './support/service.ts';

const POLL = { timeout: 30_000, interval: 100 };
const DAY = 86_400_000;
const iso = (offsetMs: number): string => new Date(Date.now() + offsetMs).toISOString();

describe.skipIf(!hasChromium())('the console on EventStoreDB says the records of an entity too long to show whole', () => {
  let standIn: StandIn;
  let svc: TestService;
  let browser: Browser;

  beforeAll(async () => {
    await ensureConsoleBundle();
    standIn = await startStandIn();
    svc = await startConsoleService({ config: { store: standIn.connectionString, limits: { maxEntityEvents: 1, maxEntityRecords: 2 } } });
    // Subscription s1: one lifecycle event, then a fact claim for each node enrolled under it (3 records).
    await postCommand(svc, 'createSubscription', { subscriptionId: 's1', subscriber: 'City Utilities', notBefore: iso(-DAY), notAfter: iso(365 * DAY) });
    for (const nodeId of ['n1', 'n2']) {
      await postCommand(svc, 'registerNode', { nodeId, profile });
      await postCommand(svc, 'enrolNode', { nodeId, subscriptionId: 's1', cseId: `/cse-${nodeId}` });
    }
    await settled(svc);
    browser = await launchChromium();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await svc?.close();
    await standIn?.stop();
  });

  it('names the records, the fact claims among them and the bound on records, not "1 events, more than the 1"', async () => {
    expect(standIn.log.stream('subscription-s1')).toHaveLength(3);
    const { context, page, cspViolations } = await openConsole(browser, svc.url);
    try {
      await signIn(page, svc.tokens.auditor, '#/entity/subscription/s1');
      const notice = page.getByTestId('entity-too-long');
      await expect.poll(() => notice.count(), POLL).toBe(1);
      const said = ((await notice.textContent()) ?? '').replace(/\s+/g, ' ');
      expect(said).toContain(
        'subscription-s1 holds 3 records (1 of the first 2 are EventStoreDB fact claims), more than the 2 the server reads in one request (limits.maxEntityRecords)',
      );
      expect(said).not.toContain('events, more than');
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
