import type { Browser } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { ensureConsoleBundle } from './console-bundle.ts';
import { launchChromium } from './console-browser.ts';
import { startConsoleService } from './console-fleet.ts';
import type { TestService, TestServiceOptions } from './service.ts';

/** The console's service and a browser, for the tests of one describe block. */
export interface ConsoleWorld {
  readonly svc: TestService;
  readonly browser: Browser;
}

/**
 * Starts both before the block's tests (then `prepare`, e.g. a command they need) and closes both after; `options`
 * configure the service (e.g. `{ config: { limits: { maxEntityEvents: 110 } } }`).
 */
export const useConsoleWorld = (prepare: (svc: TestService) => Promise<void> = async () => {}, options: TestServiceOptions = {}): ConsoleWorld => {
  const world = {} as { svc: TestService; browser: Browser };
  beforeAll(async () => {
    await ensureConsoleBundle();
    world.svc = await startConsoleService(options);
    await prepare(world.svc);
    world.browser = await launchChromium();
  }, 180_000);
  afterAll(async () => {
    await world.browser?.close();
    await world.svc?.close();
  });
  return world;
};
