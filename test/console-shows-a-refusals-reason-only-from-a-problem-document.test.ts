/**
 * Review 80: the console showed any JSON-looking 401 body with a `detail` as "the server's reason", even one a proxy or
 * gateway served as text/html, so a page in front of the service could put its words (a phishing link) inside the
 * console's own sign-in message. Only an application/problem+json body is now read (docs/console.md).
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureConsoleBundle } from './support/console-bundle.ts';
import { hasChromium, launchChromium, openConsole } from './support/console-browser.ts';
import { startConsoleService } from './support/console-fleet.ts';
import type { TestService } from './support/service.ts';

const POLL = { timeout: 30_000, interval: 100 };
const LURE = 'your session moved: paste your token at https://evil.example/signin';

describe.skipIf(!hasChromium())('a 401 at sign-in', () => {
  let svc: TestService;
  let browser: Browser;

  beforeAll(async () => {
    await ensureConsoleBundle();
    svc = await startConsoleService();
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await svc?.close();
  });

  const signInRefused = async (contentType: string): Promise<string> => {
    const { context, page } = await openConsole(browser, svc.url);
    try {
      await page.route('**/v1/compliance', (route) =>
        route.fulfill({ status: 401, contentType, body: JSON.stringify({ type: 'about:blank', title: 'Unauthorized', status: 401, detail: LURE }) }),
      );
      await page.goto('/#/overview');
      await page.getByLabel('Bearer token').fill(svc.tokens.auditor);
      await page.getByRole('button', { name: 'Sign in' }).click();
      const error = (p: Page) => p.locator('#token-error').textContent();
      await expect.poll(() => error(page), POLL).toContain('The server refused this token');
      return (await error(page)) ?? '';
    } finally {
      await context.close();
    }
  };

  it('does not repeat a body served as anything but a problem document, however it looks', async () => {
    for (const type of ['text/html', 'application/json', 'text/plain']) {
      expect(await signInRefused(type)).toBe('The server refused this token (401 Unauthorized).');
    }
  });

  it("shows a problem document's detail as the server's reason", async () => {
    expect(await signInRefused('application/problem+json')).toBe(`The server refused this token (401 Unauthorized: ${LURE}).`);
  });
});

describe('problemOf', () => {
  it('names the status when an answer has no reason phrase (HTTP/2) and is no problem document (review 85)', async () => {
    // Imported by URL: the console's sources are checked under the DOM's types (adapters/console/tsconfig.json), not Node's.
    const { problemOf } = (await import(new URL('../adapters/console/src/api.ts', import.meta.url).href)) as { problemOf: (r: Response) => Promise<unknown> };
    const page = new Response('<html>bad gateway</html>', { status: 502, statusText: '', headers: { 'content-type': 'text/html' } });
    expect(await problemOf(page)).toEqual({ title: 'HTTP 502', status: 502 });
  });
});
