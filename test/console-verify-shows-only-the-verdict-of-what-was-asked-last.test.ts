/**
 * Review 277, finding 1: the verify page showed "Verified." for a bundle other than the file the user had loaded. A
 * fetch still running when a file was loaded was not cancelled, and its answer replaced the file's verdict; two
 * overlapping file loads (the file is read asynchronously) raced the same way. Only what was asked for last may set
 * the verdict now: asking anew aborts the request before, and an earlier answer is dropped.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { seedConsoleFleet } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';
import type { TestService } from './support/service.ts';

const POLL = { timeout: 30_000, interval: 100 };
const FILE_INPUT = 'Or load a bundle file (credence export)';

/**
 * A file named `slow-…` is read late, as a large file on a slow disk is: held until the test calls
 * `window.releaseSlowReads()` (so surely after what the test awaits first); `window.slowReads` counts those done.
 */
const SLOW_FILE_READS = `(() => {
  window.slowReads = 0;
  let release;
  const released = new Promise((resolve) => (release = resolve));
  window.releaseSlowReads = () => release();
  const read = Blob.prototype.arrayBuffer;
  File.prototype.arrayBuffer = function () {
    const bytes = read.call(this);
    if (!this.name.startsWith('slow-')) return bytes;
    return bytes.then((b) => released.then(() => { window.slowReads++; return b; }));
  };
})();`;

const bundleOf = async (svc: TestService, id: string): Promise<{ entries: { event?: { metadata?: { actor?: { id?: string } } } }[] }> => {
  const answer = await fetch(`${svc.url}/v1/transparency/evidence/node/${id}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
  return (await answer.json()) as never;
};

/** The bundle with its first event's actor changed: it fails Merkle inclusion (not_included). */
const tampered = (bundle: Awaited<ReturnType<typeof bundleOf>>): unknown => {
  const copy = structuredClone(bundle);
  const metadata = copy.entries.find((entry) => entry.event !== undefined)!.event!.metadata!;
  metadata.actor = { ...metadata.actor, id: `${metadata.actor?.id ?? 'someone'}-forged` };
  return copy;
};

const verdict = (page: Page) => async (): Promise<string> => ((await page.getByTestId('verdict').allTextContents()).join(' ')).replace(/\s+/g, ' ');
const source = (page: Page) => async (): Promise<string> => (await page.locator('section[aria-labelledby="result-heading"] p.meta').first().textContent()) ?? '';

describe.skipIf(!hasChromium())('the verify page shows the verdict of what was asked for last', () => {
  const world = useConsoleWorld(seedConsoleFleet);

  const open = async (slowReads = false) => {
    const opened = await openConsole(world.browser, world.svc.url);
    if (slowReads) await opened.context.addInitScript(SLOW_FILE_READS);
    await signIn(opened.page, world.svc.tokens.auditor, '#/verify');
    await opened.page.getByText('Pinned log key and signing policy').click();
    await opened.page.getByLabel('Pinned log key').fill(readFileSync(join(world.svc.dir, 'transparency.pub'), 'utf8').trim());
    await opened.page.keyboard.press('Tab');
    return opened;
  };

  it("a fetch answered after a file was loaded does not replace the file's verdict", async () => {
    const { context, page, downloads, cspViolations } = await open();
    // The fetch is answered only once the file's verdict is shown: surely after the file was loaded.
    let answerFetch: () => void = () => undefined;
    const fetchHeld = new Promise<void>((resolve) => (answerFetch = resolve));
    try {
      const file = join(downloads, 'tampered-meter-3.json');
      writeFileSync(file, JSON.stringify(tampered(await bundleOf(world.svc, 'meter-3'))));
      let answered = false;
      await page.route(/\/v1\/transparency\/evidence\/node\/meter-1$/, async (route) => {
        await fetchHeld;
        const response = await route.fetch().catch(() => undefined);
        if (response !== undefined) await route.fulfill({ response }).catch(() => {});
        answered = true;
      });
      await page.getByLabel('Id').fill('meter-1');
      await page.getByRole('button', { name: 'Fetch and verify' }).click();
      await expect.poll(() => page.locator('p.loading').count(), POLL).toBe(1);
      await page.getByLabel(FILE_INPUT).setInputFiles(file);
      await expect.poll(verdict(page), POLL).toContain('Verification failed');
      expect(await page.locator('[data-check="inclusion"]').textContent()).toContain('not_included');

      answerFetch();
      await expect.poll(() => answered, POLL).toBe(true);
      // What the page would do with the fetch's answer takes it a moment; nothing else tells when it is done.
      await page.waitForTimeout(1_000);
      expect(await verdict(page)()).toContain('Verification failed');
      expect(await verdict(page)()).not.toContain('Verified.');
      expect(await source(page)()).toBe('Bundle loaded from the file tampered-meter-3.json.');
      expect(cspViolations).toEqual([]);
    } finally {
      answerFetch();
      await context.close();
    }
  });

  it("a file read after another was chosen does not replace the later one's verdict", async () => {
    const { context, page, downloads } = await open(true);
    try {
      const slow = join(downloads, 'slow-meter-1.json');
      writeFileSync(slow, JSON.stringify(await bundleOf(world.svc, 'meter-1')));
      const later = join(downloads, 'tampered-meter-3.json');
      writeFileSync(later, JSON.stringify(tampered(await bundleOf(world.svc, 'meter-3'))));
      await page.getByLabel(FILE_INPUT).setInputFiles(slow);
      await page.getByLabel(FILE_INPUT).setInputFiles(later);
      await expect.poll(verdict(page), POLL).toContain('Verification failed');
      await page.evaluate('window.releaseSlowReads()');
      await expect.poll(() => page.evaluate<number>('window.slowReads'), POLL).toBe(1);
      await page.waitForTimeout(500);
      expect(await verdict(page)()).not.toContain('Verified.');
      expect(await source(page)()).toBe('Bundle loaded from the file tampered-meter-3.json.');
    } finally {
      await context.close();
    }
  });

  it("a file read after a fetch was asked for does not replace the fetched bundle's verdict", async () => {
    const { context, page, downloads } = await open(true);
    try {
      const slow = join(downloads, 'slow-tampered-meter-3.json');
      writeFileSync(slow, JSON.stringify(tampered(await bundleOf(world.svc, 'meter-3'))));
      await page.getByLabel(FILE_INPUT).setInputFiles(slow);
      await page.getByLabel('Id').fill('meter-1');
      await page.getByRole('button', { name: 'Fetch and verify' }).click();
      await expect.poll(verdict(page), POLL).toContain('Verified. 5 events of node-meter-1');
      await page.evaluate('window.releaseSlowReads()');
      await expect.poll(() => page.evaluate<number>('window.slowReads'), POLL).toBe(1);
      await page.waitForTimeout(500);
      expect(await verdict(page)()).toContain('Verified. 5 events of node-meter-1');
      expect(await source(page)()).toBe('Bundle fetched from this server for node-meter-1.');
    } finally {
      await context.close();
    }
  });
});
