/**
 * Review 388 (WCAG 2.2 AA): "Check every stored transition" was removed while the check ran and came back as a new
 * element, so the keyboard's focus fell to <body>, and its verdict sat in no live region (2.4.3, 4.1.3); the
 * compliance result and the state at an instant were announced by no live region (4.1.3); document.title never
 * changed (2.4.2); a signed-in page had no <h1> (1.3.1); a refused token field had no aria-invalid (4.1.2); the
 * overview, entity, verify and compliance pages scrolled sideways at 320 px (1.4.10); the focus ring was 2.15:1 on
 * white (1.4.11); the compliance format hints were placeholders only (3.3.2).
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { hasChromium, openConsole, signIn } from './support/console-browser.ts';
import { CONSOLE_FLEET, seedConsoleFleet } from './support/console-fleet.ts';
import { useConsoleWorld } from './support/console-world.ts';

const POLL = { timeout: 30_000, interval: 100 };
const NODE = CONSOLE_FLEET.nodes[0];

/** WCAG's contrast ratio of two CSS rgb()/rgba() colours (alpha ignored: the console's colours are opaque). */
const contrast = (a: string, b: string): number => {
  const luminance = (css: string): number => {
    const [r, g, bl] = (css.match(/[\d.]+/g) ?? []).slice(0, 3).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * (r ?? 0) + 0.7152 * (g ?? 0) + 0.0722 * (bl ?? 0);
  };
  const [dark, light] = [luminance(a), luminance(b)].sort((x, y) => x - y);
  return ((light ?? 0) + 0.05) / ((dark ?? 0) + 0.05);
};

const focused = (page: Page): Promise<string> =>
  page.evaluate("`${document.activeElement?.tagName ?? ''}#${document.activeElement?.getAttribute('data-testid') ?? ''}`");

/** Headings in document order, as their levels: the first an h1, none more than one level below the one before. */
const headingLevels = (page: Page): Promise<number[]> =>
  page.evaluate("[...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].filter((h) => h.getClientRects().length > 0).map((h) => Number(h.tagName[1]))");

const inOrder = (levels: number[]): boolean => levels[0] === 1 && levels.every((level, i) => i === 0 || level <= (levels[i - 1] ?? 0) + 1);

const overflow = (page: Page): Promise<number> => page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');

/** The elements that reach past the window's right edge, for the failure's message. */
const pastTheEdge = (page: Page): Promise<string[]> =>
  page.evaluate(`[...document.querySelectorAll('main *, header *')]
    .filter((e) => !e.parentElement?.closest('.scroll') && e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
    .slice(0, 8).map((e) => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))`);

describe.skipIf(!hasChromium())('the console, used by keyboard and screen reader', () => {
  const world = useConsoleWorld(seedConsoleFleet);

  it('keeps focus on the replay check while it runs and says its verdict in a live region', async () => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens.auditor, '#/overview');
      const check = page.getByTestId('check-transitions');
      await check.focus();
      await page.keyboard.press('Enter');
      await expect.poll(() => page.locator('[role="status"]').filter({ hasText: 'every stored transition is legal' }).count(), POLL).toBe(1);
      expect(await focused(page)).toBe('BUTTON#check-transitions');
      await page.keyboard.press('Enter');
      await expect.poll(() => page.locator('[role="status"]').filter({ hasText: 'stored events replayed' }).count(), POLL).toBe(1);
      expect(await focused(page)).toBe('BUTTON#check-transitions');
    } finally {
      await context.close();
    }
  });

  it('titles each page after its heading, gives it one h1 and its headings in order', async () => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens.auditor, '#/overview');
      for (const [hash, heading] of [
        ['#/overview', 'Fleet overview'],
        ['#/compliance', 'Compliance queries'],
        ['#/verify', 'Verify an evidence bundle'],
        [`#/entity/node/${NODE}`, `node-${NODE}`],
        ['#/feed', 'Live events'],
      ] as const) {
        await page.evaluate(`location.hash = ${JSON.stringify(hash)}`);
        await expect.poll(() => page.title(), POLL).toBe(`${heading} – Credence audit console`);
        expect(await page.locator('h1').count(), hash).toBe(1);
        expect(inOrder(await headingLevels(page)), `${hash}: ${(await headingLevels(page)).join(',')}`).toBe(true);
      }
    } finally {
      await context.close();
    }
  });

  it('marks a refused token field invalid', async () => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      await page.goto('/#/overview');
      await page.getByLabel('Bearer token').fill('not a token');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => page.locator('#token').getAttribute('aria-invalid'), POLL).toBe('true');
      await page.getByLabel('Bearer token').fill(world.svc.tokens.auditor);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByTestId('who').waitFor();
    } finally {
      await context.close();
    }
  });

  it('announces the compliance result and the state at an instant, and ties the format hints to their fields', async () => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens.auditor, '#/compliance');
      await page.locator('#query-name').waitFor();
      expect(await page.locator('#query-name').getAttribute('aria-describedby')).toBeTruthy();
      await page.locator('#query-name').selectOption('revocations');
      for (const p of ['from', 'limit', 'after']) {
        const field = page.locator(`#param-${p}`);
        if ((await field.count()) === 0) continue;
        const described = await field.getAttribute('aria-describedby');
        expect(described, p).toBeTruthy();
        expect(await page.locator(`#${described}`).isVisible(), p).toBe(true);
      }
      await page.getByRole('button', { name: 'Run query' }).click();
      await expect.poll(() => page.locator('[role="status"]').filter({ hasText: /^\s*\d+ rows?\b/ }).count(), POLL).toBeGreaterThan(0);

      await page.evaluate(`location.hash = ${JSON.stringify(`#/entity/node/${NODE}`)}`);
      await page.getByTestId('state-at').waitFor({ timeout: 30_000 });
      expect(await page.locator('.state-at').getAttribute('role')).toBe('status');
    } finally {
      await context.close();
    }
  });

  it('draws a focus ring of at least 3:1 against what surrounds it, in the page and in the header', async () => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      await signIn(page, world.svc.tokens.auditor, '#/overview');
      await page.keyboard.press('Tab');
      const ring = async (selector: string): Promise<string> => {
        await page.locator(selector).first().focus();
        return page.evaluate('getComputedStyle(document.activeElement).outlineColor');
      };
      const inMain = await ring('[data-testid="check-transitions"]');
      const body = await page.evaluate<string>('getComputedStyle(document.querySelector("main")).backgroundColor === "rgba(0, 0, 0, 0)" ? getComputedStyle(document.documentElement).backgroundColor : getComputedStyle(document.querySelector("main")).backgroundColor');
      expect(contrast(inMain, 'rgb(255, 255, 255)'), inMain).toBeGreaterThanOrEqual(3);
      expect(contrast(inMain, body), `${inMain} on ${body}`).toBeGreaterThanOrEqual(3);
      const inHeader = await ring('header nav a');
      const header = await page.evaluate<string>('getComputedStyle(document.querySelector("header")).backgroundColor');
      expect(contrast(inHeader, header), `${inHeader} on ${header}`).toBeGreaterThanOrEqual(3);
    } finally {
      await context.close();
    }
  });

  it.each([320, 683])('scrolls no page sideways at %i px', async (width) => {
    const { context, page } = await openConsole(world.browser, world.svc.url);
    try {
      await page.setViewportSize({ width, height: 800 });
      await signIn(page, world.svc.tokens.auditor, '#/overview');
      const wide: Record<string, number> = {};
      const past: Record<string, string[]> = {};
      await page.getByTestId('total-node').waitFor();
      await page.locator('[aria-labelledby="revoked-heading"] table').waitFor({ timeout: 30_000 });
      wide.overview = await overflow(page);
      past.overview = await pastTheEdge(page);
      await page.evaluate(`location.hash = ${JSON.stringify(`#/entity/node/${NODE}`)}`);
      await page.locator('table.timeline').waitFor({ timeout: 30_000 });
      await page.getByTestId('state-at').waitFor({ timeout: 30_000 });
      wide.entity = await overflow(page);
      past.entity = await pastTheEdge(page);
      await page.evaluate(`location.hash = ${JSON.stringify(`#/verify/node/${NODE}`)}`);
      await page.locator('h3#result-heading').waitFor({ timeout: 30_000 });
      await page.waitForTimeout(500);
      wide.verify = await overflow(page);
      past.verify = await pastTheEdge(page);
      await page.evaluate("location.hash = '#/compliance'");
      await page.locator('#query-name').selectOption('revocations');
      await page.getByRole('button', { name: 'Run query' }).click();
      await page.getByTestId('rows').waitFor({ timeout: 30_000 });
      wide.compliance = await overflow(page);
      past.compliance = await pastTheEdge(page);
      expect(wide, JSON.stringify(past)).toEqual({ overview: 0, entity: 0, verify: 0, compliance: 0 });
    } finally {
      await context.close();
    }
  });
});
