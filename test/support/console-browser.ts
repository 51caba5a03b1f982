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

/** A fresh context per test (its own session storage), a laptop-sized window, and every CSP violation recorded. */
export const openConsole = async (browser: Browser, url: string): Promise<{ context: BrowserContext; page: Page; cspViolations: string[]; downloads: string }> => {
  const downloads = mkdtempSync(join(tmpdir(), 'credence-console-downloads-'));
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, acceptDownloads: true, baseURL: url });
  const page = await context.newPage();
  const cspViolations: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });
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
