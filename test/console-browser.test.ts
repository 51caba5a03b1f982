/**
 * Issue 14: the web audit console in a real headless Chromium (playwright-core driving Debian's /usr/bin/chromium),
 * against the real service with a fleet seeded through the API. One browser for the file; every wait is bounded
 * polling on what the page shows, never a sleep.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureConsoleBundle } from './support/console-bundle.ts';
import { hasChromium, launchChromium, openConsole, signIn } from './support/console-browser.ts';
import { CONSOLE_SIGNING, postCommand, seedConsoleFleet, startConsoleService } from './support/console-fleet.ts';
import { profile } from './support/fleet.ts';
import type { TestService } from './support/service.ts';
import { formatVerifierKey, noteVerifierKey, parseVerifierKey } from '../domain/transparency/index.ts';
import { generateSigningKey, toBase64url } from '../domain/crypto/index.ts';

const POLL = { timeout: 30_000, interval: 100 };

if (!hasChromium()) console.warn('console browser tests skipped: /usr/bin/chromium is not installed (CI installs it: .ci/run)');

describe.skipIf(!hasChromium())('the web audit console in Chromium (issue 14)', () => {
  let svc: TestService;
  let browser: Browser;

  beforeAll(async () => {
    await ensureConsoleBundle();
    svc = await startConsoleService();
    await seedConsoleFleet(svc);
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await svc?.close();
  });

  const session = async (role: keyof TestService['tokens'], hash?: string) => {
    const opened = await openConsole(browser, svc.url);
    await signIn(opened.page, svc.tokens[role], hash);
    return opened;
  };
  const text = (page: Page, testId: string) => () => page.getByTestId(testId).first().textContent();

  /** A token of its own for a test that signs out (which revokes it), so the file's shared tokens stay valid. */
  const ownToken = async (subject: string) =>
    (await svc.service.context.access.issue({ subject, role: 'auditor', ttlSeconds: 600, issuedBy: 'test' })).token;
  const statusWith = async (token: string) => (await fetch(`${svc.url}/v1/compliance`, { headers: { authorization: `Bearer ${token}` } })).status;

  it('refuses a token the server does not accept, signs in with a good one, keeps it out of the URL, and runs under its CSP', async () => {
    const { context, page, cspViolations } = await openConsole(browser, svc.url);
    const token = await ownToken('console-sign-out');
    try {
      await page.goto('/');
      const [header, payload] = token.split('.');
      await page.getByLabel('Bearer token').fill(`${header}.${payload}.${'A'.repeat(43)}`);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => page.getByRole('alert').textContent(), POLL).toContain('401');

      await page.getByLabel('Bearer token').fill(token);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(text(page, 'who'), POLL).toContain('console-sign-out');
      expect(page.url()).not.toContain(token);
      expect(await page.evaluate('Object.values(sessionStorage)')).toEqual([token]);
      expect(await page.evaluate('Object.values(localStorage)')).toEqual([]);
      // Reloading keeps the session (session storage); signing out forgets it, and the server revokes the token.
      await page.reload();
      await page.getByTestId('who').waitFor();
      expect(await statusWith(token)).toBe(200);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByLabel('Bearer token').waitFor();
      expect(await page.evaluate('sessionStorage.length')).toBe(0);
      await expect.poll(text(page, 'sign-in-notice'), POLL).toContain('the server revoked the token');
      expect(await statusWith(token)).toBe(401);
      expect(cspViolations).toEqual([]);
      // Trusted Types: markup from a string reaches the DOM only through Lit's template policy, never from a page script.
      expect(await page.evaluate("(() => { try { document.body.insertAdjacentHTML('beforeend', '<b>x</b>'); return 'inserted'; } catch (e) { return e.name; } })()")).toBe('TypeError');
      await expect.poll(() => cspViolations.join(' '), POLL).toContain('require-trusted-types-for');
    } finally {
      await context.close();
    }
  });

  it('says, when the server cannot revoke the token at sign-out, that it stays valid until its expiry and how to end it', async () => {
    const { context, page } = await openConsole(browser, svc.url);
    const token = await ownToken('console-sign-out-refused');
    try {
      await page.route('**/v1/session', (route) =>
        route.fulfill({ status: 503, contentType: 'application/problem+json', body: JSON.stringify({ title: 'Service Unavailable', status: 503, detail: 'shedding load' }) }),
      );
      await signIn(page, token);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByLabel('Bearer token').waitFor();
      expect(await page.evaluate('sessionStorage.length')).toBe(0);
      const alert = page.getByRole('alert');
      await expect.poll(() => alert.textContent(), POLL).toContain('stays valid until');
      const said = (await alert.textContent()) ?? '';
      expect(said).toContain('shedding load');
      expect(said).toMatch(/credence token revoke tok_[A-Za-z0-9_-]{22}/);
      expect(said).not.toContain(token);
      expect(await statusWith(token)).toBe(200);
    } finally {
      await context.close();
    }
  });

  it('shows the fleet by kind and state, and follows the event stream when a command is executed through the API', async () => {
    const { context, page, cspViolations } = await session('auditor');
    try {
      await expect.poll(text(page, 'total-node'), POLL).toBe('4');
      await expect.poll(text(page, 'count-node-revoked'), POLL).toBe('1');
      expect(await text(page, 'total-application')()).toBe('1');
      expect(await text(page, 'count-association-associated')()).toBe('5'); // 3 live meters' CSE associations, 2 AE instances
      await expect.poll(() => page.getByTestId('live-status').getAttribute('data-state'), POLL).toBe('live');
      await expect.poll(() => page.locator('section[aria-labelledby="expiring-heading"]').textContent(), POLL).toContain('meter-2-service');
      await expect.poll(() => page.locator('section[aria-labelledby="revoked-heading"]').textContent(), POLL).toContain('node-meter-3');

      await postCommand(svc, 'registerNode', { nodeId: 'meter-5', profile });
      await expect.poll(text(page, 'total-node'), POLL).toBe('5');
      await expect.poll(text(page, 'count-node-initialized'), POLL).toBe('1');
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("opens an entity: its timeline with actors and causes, the state at the instant the slider picks, and the cascade in its graph", async () => {
    const { context, page } = await session('auditor', '#/entity/node/meter-3');
    try {
      await expect.poll(text(page, 'state-at'), POLL).toBe('revoked');
      const timeline = page.locator('table.timeline');
      await expect.poll(() => timeline.textContent(), POLL).toContain('NodeRevoked');
      expect(await timeline.textContent()).toContain('test-operator');
      // The revocation was a signed request (SER-016), checked by the server's audit trail; the rest were not signed.
      expect(await timeline.locator('tr', { hasText: 'NodeRevoked' }).locator('.sig').textContent()).toBe('verified');
      expect(await timeline.locator('tr', { hasText: 'NodeRegistered' }).locator('.sig').textContent()).toBe('unsigned');

      const slider = page.getByRole('slider', { name: 'Instant' });
      await slider.focus();
      await page.keyboard.press('Home');
      await expect.poll(text(page, 'state-at'), POLL).toBe('absent');
      await page.getByRole('button', { name: 'Next event' }).click();
      await expect.poll(text(page, 'state-at'), POLL).toBe('initialized');
      await slider.focus();
      await page.keyboard.press('End');
      await expect.poll(text(page, 'state-at'), POLL).toBe('revoked');

      const graph = page.getByTestId('graph');
      await expect.poll(() => graph.textContent(), POLL).toContain('credential-meter-3-service');
      const text3 = (await graph.textContent()) ?? '';
      expect(text3).toContain('association-meter-3-sa');
      expect(text3).toMatch(/cascade from\s+node-meter-3/);

      // The cascade's association shows what caused its revocation, and links back.
      await graph.getByRole('link', { name: 'association-meter-3-sa' }).click();
      await expect.poll(() => page.locator('table.timeline').textContent(), POLL).toContain('AssociationRevoked');
      expect(await page.locator('table.timeline').textContent()).toMatch(/node-meter-3\s*NodeRevoked/);
    } finally {
      await context.close();
    }
  });

  it('shows an App-ID with its credential and instances, and the cascade of its revocation through them', async () => {
    const { context, page } = await session('auditor', '#/entity/application/Rmetering');
    try {
      const graph = page.getByTestId('graph');
      await expect.poll(() => graph.textContent(), POLL).toContain('association-Cmeter2-sa');
      const before = (await graph.textContent()) ?? '';
      expect(before).toMatch(/App-ID\s+application-Rmetering/);
      expect(before).toMatch(/credential\s+credential-Rmetering-app/);
      expect(before).toMatch(/instance Cmeter1\s+association-Cmeter1-sa/);
      expect(before).not.toContain('cascade from');

      await postCommand(svc, 'revokeApplication', { appId: 'Rmetering', reason: 'privilegeWithdrawn' });
      await page.reload();
      await expect.poll(() => graph.locator('.cascade').count(), POLL).toBe(4);
      const after = (await graph.textContent()) ?? '';
      expect(after).toContain('revoked directly');
      // The credential and both instances were revoked by the cascade, each linked to the App-ID's revocation.
      expect(after.match(/cascade from\s+application-Rmetering\s+ApplicationRevoked/g)).toHaveLength(3);
    } finally {
      await context.close();
    }
  });

  it('is usable from the keyboard alone: skip link, navigation, forms', async () => {
    const { context, page } = await session('auditor');
    try {
      await page.getByTestId('total-node').waitFor();
      const focused = () => page.evaluate<string>("document.activeElement?.textContent?.trim() ?? ''");
      // Signing in moves the focus to the page's heading (review 277); on a page opened afresh, Tab reaches the skip link first.
      await expect.poll(focused, POLL).toBe('Fleet overview');
      await page.reload();
      await page.getByTestId('total-node').waitFor();
      await page.keyboard.press('Tab');
      expect(await focused()).toBe('Skip to content');
      await page.keyboard.press('Enter');
      expect(await focused()).toBe('Fleet overview');
      await page.keyboard.press('Shift+Tab');
      await page.keyboard.press('Shift+Tab');
      await page.keyboard.press('Shift+Tab');
      await page.keyboard.press('Shift+Tab');
      await page.keyboard.press('Shift+Tab');
      expect(await focused()).toBe('Entities');
      await page.keyboard.press('Enter');
      // The page's heading, not the link of the same name that still has the focus until the router moves it.
      const focusedTag = () => page.evaluate<string>("document.activeElement?.tagName ?? ''");
      await expect.poll(async () => `${await focusedTag()} ${await focused()}`, POLL).toBe('H2 Entities');
      expect(page.url()).toContain('#/entity');
      // Into the form: kind, id, Open.
      await page.keyboard.press('Tab');
      await page.keyboard.press('Tab');
      await page.keyboard.type('meter-2');
      await page.keyboard.press('Enter');
      await expect.poll(() => page.locator('main h2').textContent(), POLL).toBe('node-meter-2');
      await expect.poll(text(page, 'state-at'), POLL).toBe('associated');
    } finally {
      await context.close();
    }
  });

  it('verifies an evidence bundle in the browser, and names the check a tampered one fails', async () => {
    const { context, page, cspViolations, downloads } = await session('auditor', '#/verify/node/meter-3');
    try {
      // No key pinned: integrity checked under the key the bundle names, which is not verified (review 30, D1).
      await expect.poll(text(page, 'verdict'), POLL).toContain("Not verified: the log's key is not pinned.");
      expect(await text(page, 'verdict')()).not.toContain('Verified.');
      expect(await page.locator('[data-check="key"]').textContent()).toContain('skipped');
      const signatures = page.locator('table', { hasText: 'Request signatures' });
      expect(await signatures.locator('tr', { hasText: 'NodeRevoked' }).getByTestId('signature').textContent()).toBe('signed, not checked');

      // The auditor's own copy of the log key and the deployment's signing policy, pasted as a person would.
      await page.getByText('Pinned log key and signing policy').click();
      const logKey = readFileSync(join(svc.dir, 'transparency.pub'), 'utf8').trim();
      await page.getByLabel('Pinned log key').fill(logKey);
      await page.getByLabel('Request-signing policy JSON').fill(JSON.stringify(CONSOLE_SIGNING.policy));
      await page.keyboard.press('Tab');
      await expect.poll(() => page.locator('[data-check="key"] .outcome').textContent(), POLL).toBe('passed');
      expect(await text(page, 'verdict')()).toContain('Verified.');
      await expect.poll(() => signatures.locator('tr', { hasText: 'NodeRevoked' }).getByTestId('signature').textContent(), POLL).toBe('verified');
      expect(await signatures.locator('tr', { hasText: 'NodeRegistered' }).getByTestId('signature').textContent()).toBe('unsigned');

      // Another key claimed for the same operator: the revocation's signature does not verify under that policy.
      const impostor = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
      const forgedPolicy = { ...CONSOLE_SIGNING.policy, keys: [{ ...CONSOLE_SIGNING.policy.keys![0]!, publicKey: toBase64url(impostor.publicKey) }] };
      await page.getByLabel('Request-signing policy JSON').fill(JSON.stringify(forgedPolicy));
      await page.keyboard.press('Tab');
      await expect.poll(() => signatures.locator('tr', { hasText: 'NodeRevoked' }).getByTestId('signature').textContent(), POLL).toBe('invalid');
      // The genuine policy with the forged keys named again after it: JSON.parse would keep the forged ones, and
      // `credence verify` refuses the text; so does the console (RFC 7493 2.3).
      const twice = `${JSON.stringify(CONSOLE_SIGNING.policy).slice(0, -1)},"keys":${JSON.stringify(forgedPolicy.keys)}}`;
      await page.getByLabel('Request-signing policy JSON').fill(twice);
      await page.keyboard.press('Tab');
      await expect.poll(() => page.locator('p.error[role="alert"]').textContent(), POLL).toBe(
        'the signing policy: keys: names a member its object names already (RFC 7493 2.3): give each name once',
      );
      await page.getByLabel('Request-signing policy JSON').fill(JSON.stringify(forgedPolicy));
      await page.keyboard.press('Tab');

      // A log key other than the one that signed: the bundle is refused at the key check.
      const otherLog = formatVerifierKey(noteVerifierKey(parseVerifierKey(logKey)!.keyName, generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n))).publicKey));
      await page.getByLabel('Pinned log key').fill(otherLog);
      await page.keyboard.press('Tab');
      await expect.poll(text(page, 'failed-check'), POLL).toBe('Signed by the pinned log key');
      await page.getByLabel('Pinned log key').fill('');
      await page.keyboard.press('Tab');
      await expect.poll(text(page, 'verdict'), POLL).toContain("Not verified: the log's key is not pinned.");

      await page.getByRole('button', { name: 'Tamper with it (demonstration)' }).click();
      await expect.poll(text(page, 'failed-check'), POLL).toBe('Merkle inclusion of every event (RFC 9162)');
      expect(await page.locator('[data-check="inclusion"]').textContent()).toContain('not_included');

      // A bundle file with its last event removed: the signed stream head says the history is incomplete.
      const response = await fetch(`${svc.url}/v1/transparency/evidence/node/meter-3`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
      const bundle = (await response.json()) as { entries: unknown[] };
      const file = join(downloads, 'truncated.json');
      writeFileSync(file, JSON.stringify({ ...bundle, entries: bundle.entries.slice(0, -1) }));
      await page.getByLabel('Or load a bundle file (credence export)').setInputFiles(file);
      await expect.poll(text(page, 'failed-check'), POLL).toContain('Complete history');
      expect(await page.locator('[data-check="completeness"]').textContent()).toContain('incomplete_history');
      // A bundle file naming a member twice is refused as `credence verify` refuses it, before any check.
      const repeated = join(downloads, 'repeated.json');
      writeFileSync(repeated, `${JSON.stringify(bundle).slice(0, -1)},"entries":[]}`);
      await page.getByLabel('Or load a bundle file (credence export)').setInputFiles(repeated);
      await expect.poll(() => page.locator('div.error[role="alert"]').textContent(), POLL).toContain(
        'repeated.json: entries: names a member its object names already (RFC 7493 2.3)',
      );
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("fails a genuine bundle of another entity than the one fetched (review 30, D2: the server's word is not taken)", async () => {
    const answer = await fetch(`${svc.url}/v1/transparency/evidence/node/meter-3`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    const body = await answer.text();
    const { context, page, cspViolations } = await openConsole(browser, svc.url);
    try {
      // A server that answers for node meter-2 with node meter-3's genuine bundle.
      await page.route('**/v1/transparency/evidence/node/meter-2', (route) => route.fulfill({ status: 200, contentType: 'application/json', body }));
      await signIn(page, svc.tokens.auditor, '#/verify/node/meter-2');
      await page.getByText('Pinned log key and signing policy').click();
      await page.getByLabel('Pinned log key').fill(readFileSync(join(svc.dir, 'transparency.pub'), 'utf8').trim());
      await page.keyboard.press('Tab');
      await expect.poll(text(page, 'failed-check'), POLL).toBe('Of the entity asked for');
      expect(await page.locator('[data-check="stream"]').textContent()).toContain('wrong_stream: the bundle is of node-meter-3, not of node-meter-2');
      expect(await page.locator('[data-check="completeness"] .outcome').textContent()).toBe('passed');
      expect(cspViolations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('runs a compliance query with parameters, shows the proving position of each row, and downloads the CSV', async () => {
    const { context, page } = await session('auditor', '#/compliance');
    try {
      await page.getByLabel('Query').selectOption('revocations');
      await page.getByLabel('reason').fill('keyCompromise');
      await page.getByRole('button', { name: 'Run query' }).click();
      await expect.poll(text(page, 'rows'), POLL).toContain('node-meter-3');
      const count = Number(await page.getByTestId('row-count').textContent());
      expect(count).toBe(3); // node-meter-3, and by the cascade its service credential and its association
      const positions = await page.locator('[data-testid="rows"] tbody td:first-child').allTextContents();
      expect(positions.every((p) => /^\d+$/.test(p))).toBe(true);

      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
      const saved = readFileSync((await download.path())!);
      // The UTF-8 byte-order mark first, so that Excel reads the file as UTF-8 (the API's CSV body carries none).
      expect([...saved.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
      const csv = saved.subarray(3).toString('utf8');
      const lines = csv.trim().split('\r\n');
      expect(lines[0]!.split(',')[0]).toBe('position');
      expect(lines).toHaveLength(count + 1);
      expect(lines.map((l) => l.split(',')[0]).slice(1).sort()).toEqual([...positions].sort());
      expect(csv).toContain('node-meter-3');

      // A parameter the query's schema refuses: the field is named.
      await page.getByLabel('Query').selectOption('expiring');
      await page.getByLabel('days').fill('soon');
      await page.getByRole('button', { name: 'Run query' }).click();
      await expect.poll(() => page.getByRole('alert').textContent(), POLL).toContain('query.days');
    } finally {
      await context.close();
    }
  });

  it('refuses the pages a role may not see, from the API\'s 403, and gives an integrator the pseudonymised feed', async () => {
    const { context, page } = await session('integrator');
    try {
      await expect.poll(() => page.locator('.refused').first().textContent(), POLL).toContain('Not available to your role');
      expect(await page.locator('.refused').first().textContent()).toContain('integrator');
      await page.getByRole('link', { name: 'Compliance queries' }).click();
      await expect.poll(() => page.locator('.refused').first().textContent(), POLL).toContain('403');

      // The page's own link: the overview, while still shown, points an integrator to Live events too.
      await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Live events' }).click();
      await expect.poll(() => page.getByTestId('feed-status').getAttribute('data-state'), POLL).toBe('live');
      await postCommand(svc, 'registerNode', { nodeId: 'meter-6', profile });
      await expect.poll(() => page.getByTestId('feed').textContent(), POLL).toContain('NodeRegistered');
      expect(await page.getByTestId('feed').textContent()).not.toContain('meter-6');
    } finally {
      await context.close();
    }

    // An admin reads but holds no event stream: the overview says so, and still shows the counts.
    const admin = await session('admin');
    try {
      await expect.poll(() => admin.page.getByTestId('live-status').getAttribute('data-state'), POLL).toBe('refused');
      await expect.poll(text(admin.page, 'total-node'), POLL).not.toBeNull();
    } finally {
      await admin.context.close();
    }
  });
});
