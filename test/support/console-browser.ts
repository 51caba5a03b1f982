import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium, which `.ci/run` installs; Playwright's own browser download is not used. */
export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = (): boolean => existsSync(CHROMIUM);

export const launchChromium = (): Promise<Browser> =>
  chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });

/** A fresh context per test (its own session storage), a laptop-sized window, and every CSP or Trusted Types violation recorded. */
export const openConsole = async (browser: Browser, url: string): Promise<{ context: BrowserContext; page: Page; cspViolations: string[]; downloads: string }> => {
  const downloads = mkdtempSync(join(tmpdir(), 'credence-console-downloads-'));
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, acceptDownloads: true, baseURL: url });
  const cspViolations: string[] = [];
  context.on('console', (message) => {
    if (/Content Security Policy|Trusted ?Type/i.test(message.text())) cspViolations.push(message.text());
  });
  // The page's own securitypolicyviolation events too: they do not depend on how Chromium words its console messages.
  await context.exposeBinding('reportCspViolation', (_source, violation: string) => void cspViolations.push(violation));
  await context.addInitScript(
    "document.addEventListener('securitypolicyviolation', (e) => window.reportCspViolation(e.violatedDirective + ' ' + e.blockedURI + (e.sample ? ' (' + e.sample + ')' : '') + (e.sourceFile ? ' at ' + e.sourceFile + ':' + e.lineNumber + ':' + e.columnNumber : '')));",
  );
  const page = await context.newPage();
  context.on('close', () => rmSync(downloads, { recursive: true, force: true }));
  return { context, page, cspViolations, downloads };
};

/** Signs in through the form, as a person pastes a token. */
export const signIn = async (page: Page, token: string, hash = '#/overview'): Promise<void> => {
  await page.goto(`/${hash}`);
  await page.getByLabel('Bearer token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('who').waitFor();
};

/** The text of each row's cell under the entity timeline's column headed `heading`. */
export const timelineColumn = async (page: Page, heading: string): Promise<string[]> => {
  const headings = (await page.locator('table.timeline thead th').allTextContents()).map((t) => t.trim());
  const index = headings.indexOf(heading);
  if (index < 0) return [`(no column ${heading}: ${headings.join(', ')})`];
  return (await page.locator(`table.timeline tbody tr td:nth-child(${index + 1})`).allTextContents()).map((t) => t.replace(/\s+/g, ' ').trim());
};
