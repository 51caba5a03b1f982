/**
 * Review 240: the evidence page said a stored request signature was `invalid` without a word of why, so a genuine
 * signature whose key was removed from the pasted policy read as a forged one (the timeline tells them apart since
 * review 182: `unknown_key`, `does_not_verify`); and it listed a bundle's events as `verified` under "Verification
 * failed" and "Not verified: the log's key is not pinned". Checked on the real service's bundle of meter-3, whose
 * revocation test-operator signed (CONSOLE_SIGNING), in the console's own code and in Chromium.
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSignatures } from '../adapters/console/src/evidence.ts';
import { formatVerifierKey, noteVerifierKey, parseVerifierKey } from '../domain/transparency/index.ts';
import { generateSigningKey } from '../domain/crypto/index.ts';
import { ensureConsoleBundle } from './support/console-bundle.ts';
import { hasChromium, launchChromium, openConsole, signIn } from './support/console-browser.ts';
import { CONSOLE_SIGNING, seedConsoleFleet, startConsoleService } from './support/console-fleet.ts';
import type { TestService } from './support/service.ts';

const POLL = { timeout: 30_000, interval: 100 };
/** The deployment's policy with test-operator's key removed rather than retired. */
const KEY_REMOVED = JSON.stringify({ ...CONSOLE_SIGNING.policy, keys: [] });
const GENUINE = JSON.stringify(CONSOLE_SIGNING.policy);

interface Entry { event?: { type?: string; metadata?: { signature?: { value?: string } } } }

describe.skipIf(!hasChromium())('the evidence page says why a signature is invalid, and calls none verified in a bundle that is not', () => {
  let svc: TestService;
  let browser: Browser;
  let bundle: { entries: Entry[] };

  beforeAll(async () => {
    await ensureConsoleBundle();
    svc = await startConsoleService();
    await seedConsoleFleet(svc);
    const answer = await fetch(`${svc.url}/v1/transparency/evidence/node/meter-3`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    bundle = (await answer.json()) as typeof bundle;
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await svc?.close();
  });

  const revocation = (checked: ReturnType<typeof checkSignatures>) => ('rows' in checked ? checked.rows.find((r) => r.type === 'NodeRevoked') : undefined);

  it('names a key left out of the policy `unknown_key`, and a signature that does not verify over its record `does_not_verify`', () => {
    expect(revocation(checkSignatures(bundle, KEY_REMOVED))).toMatchObject({
      status: 'invalid', reason: 'unknown_key', detail: expect.stringContaining('not in the signing policy'),
    });
    // The same record with its signature value changed: what a forged one looks like to the verifier.
    const forged = structuredClone(bundle);
    const signature = forged.entries.find((e) => e.event?.type === 'NodeRevoked')!.event!.metadata!.signature!;
    signature.value = `${signature.value!.startsWith('A') ? 'B' : 'A'}${signature.value!.slice(1)}`;
    expect(revocation(checkSignatures(forged, GENUINE))).toMatchObject({
      status: 'invalid', reason: 'does_not_verify', detail: expect.stringContaining('altered or the signature forged'),
    });
  });

  it('shows the reason on the page, and no signature as verified unless the bundle is', async () => {
    const { context, page, cspViolations } = await openConsole(browser, svc.url);
    try {
      await signIn(page, svc.tokens.auditor, '#/verify/node/meter-3');
      const logKey = readFileSync(join(svc.dir, 'transparency.pub'), 'utf8').trim();
      const revoked = page.locator('table', { hasText: 'Request signatures' }).locator('tr', { hasText: 'NodeRevoked' });
      await page.getByText('Pinned log key and signing policy').click();

      // No log key pinned, the genuine policy pasted: integrity only, so no signature is called verified.
      await page.getByLabel('Request-signing policy JSON').fill(GENUINE);
      await page.keyboard.press('Tab');
      await expect.poll(() => page.getByTestId('verdict').textContent(), POLL).toContain("Not verified: the log's key is not pinned.");
      await expect.poll(() => revoked.getByTestId('signature').textContent(), POLL).toBe('signed, not checked');
      expect(await page.getByTestId('signature').allTextContents()).not.toContain('verified');

      // The log key pinned: verified, and under a policy without the key, `invalid` says why.
      await page.getByLabel('Pinned log key').fill(logKey);
      await page.keyboard.press('Tab');
      await expect.poll(() => revoked.getByTestId('signature').textContent(), POLL).toBe('verified');
      await page.getByLabel('Request-signing policy JSON').fill(KEY_REMOVED);
      await page.keyboard.press('Tab');
      await expect.poll(() => revoked.getByTestId('signature').textContent(), POLL).toBe('invalid');
      expect(await revoked.getByTestId('signature-detail').textContent()).toContain('unknown_key: the key is not in the signing policy');

      // Another log's key pinned: verification fails, and no signature of the bundle is shown as a finding.
      await page.getByLabel('Request-signing policy JSON').fill(GENUINE);
      const otherLog = formatVerifierKey(noteVerifierKey(parseVerifierKey(logKey)!.keyName, generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n))).publicKey));
      await page.getByLabel('Pinned log key').fill(otherLog);
      await page.keyboard.press('Tab');
      await expect.poll(() => page.getByTestId('failed-check').first().textContent(), POLL).toBe('Signed by the pinned log key');
      await expect.poll(() => page.getByTestId('signatures-not-shown').textContent(), POLL).toContain('failed verification');
      expect(await page.getByTestId('signature').count()).toBe(0);

      // A tampered copy under the genuine log key: the same.
      await page.getByLabel('Pinned log key').fill(logKey);
      await page.keyboard.press('Tab');
      await expect.poll(() => revoked.getByTestId('signature').textContent(), POLL).toBe('verified');
      await page.getByRole('button', { name: 'Tamper with it (demonstration)' }).click();
      await expect.poll(() => page.getByTestId('failed-check').first().textContent(), POLL).toBe('Merkle inclusion of every event (RFC 9162)');
      await expect.poll(() => page.getByTestId('signature').count(), POLL).toBe(0);
      expect(await page.getByTestId('signatures-not-shown').textContent()).toContain('failed verification');
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
