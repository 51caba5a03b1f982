/**
 * Review 212 (SER-010): the console's "What depends on it" showed a cascaded credential revocation's first reason
 * alone after an operator raised it to keyCompromise (machines v5), while the entity, OCSP and the CRL said
 * keyCompromise. The graph shows the first reason, the raise with its position, and the cascade that ended it.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureConsoleBundle } from './support/console-bundle.ts';
import { hasChromium, launchChromium, openConsole, signIn } from './support/console-browser.ts';
import { postCommand } from './support/console-fleet.ts';
import { settled } from './http-sse.fixtures.ts';
import { issueCredentialData, profile } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';

const POLL = { timeout: 30_000, interval: 100 };
const DAY = 86_400_000;
const iso = (offsetMs: number): string => new Date(Date.now() + offsetMs).toISOString();

describe.skipIf(!hasChromium())("the console's graph of a credential revocation raised to keyCompromise", () => {
  let svc: TestService;
  let browser: Browser;
  let raisedAt: string;

  beforeAll(async () => {
    await ensureConsoleBundle();
    svc = await startTestService();
    await postCommand(svc, 'createSubscription', { subscriptionId: 'city', subscriber: 'City Utilities', notBefore: iso(-DAY), notAfter: iso(365 * DAY) });
    await postCommand(svc, 'registerNode', { nodeId: 'meter-1', profile });
    await postCommand(svc, 'enrolNode', { nodeId: 'meter-1', subscriptionId: 'city', cseId: '/cse-meter-1' });
    await postCommand(svc, 'issueCredential', issueCredentialData('cred-1', 'meter-1', { notBefore: iso(-DAY), notAfter: iso(90 * DAY) }));
    await postCommand(svc, 'provisionCredential', { credentialId: 'cred-1', method: 'pre-provisioning' });
    await postCommand(svc, 'revokeNode', { nodeId: 'meter-1', reason: 'cessationOfOperation' });
    await settled(svc);
    await postCommand(svc, 'revokeCredential', { credentialId: 'cred-1', reason: 'keyCompromise' });
    await settled(svc);
    raisedAt = String((await svc.service.context.credence.store.headPosition())!);
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await svc?.close();
  });

  it('shows the first reason, the raise with its position, and the cascade from the node', async () => {
    const { context, page, cspViolations } = await openConsole(browser, svc.url);
    try {
      await signIn(page, svc.tokens.auditor, '#/entity/node/meter-1');
      const graph = page.getByTestId('graph');
      await expect.poll(() => graph.textContent(), POLL).toContain('credential-cred-1');
      const text = ((await graph.textContent()) ?? '').replace(/\s+/g, ' ');
      expect(text).toMatch(
        new RegExp(`credential-cred-1 revoked cessationOfOperation, raised to keyCompromise @${raisedAt} — cascade from node-meter-1 NodeRevoked @\\d+`),
      );
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
