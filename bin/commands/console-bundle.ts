import { join } from 'node:path';
import { consoleBundleFreshness, PROJECT_ROOT, type ConsoleBundleFreshness } from '../../adapters/http/console-bundle-freshness.ts';
import type { Io } from '../io.ts';
import { printable } from '../printable.ts';

export interface ConsoleBuildOptions {
  /** Default: the config's own, adapters/console/dist/. */
  readonly outDir?: string;
  /** Vite's own lines: `error` (default) keeps the terminal to ours; the tests take `warn`. */
  readonly logLevel?: 'warn' | 'error' | 'silent';
}

/**
 * `npm run console:build` in process: Vite with the console's own config. Vite is a devDependency, loaded only
 * here: an install without devDependencies (`npm ci --omit=dev`) runs everything else, and this rejects.
 */
export const buildConsoleBundle = async (options: ConsoleBuildOptions = {}): Promise<void> => {
  const { build } = await import('vite');
  await build({
    configFile: join(PROJECT_ROOT, 'adapters/console/vite.config.ts'),
    logLevel: options.logLevel ?? 'error',
    ...(options.outDir !== undefined ? { build: { outDir: options.outDir, emptyOutDir: true } } : {}),
  });
};

export interface ConsoleRebuild {
  readonly freshness?: () => ConsoleBundleFreshness;
  readonly build?: () => Promise<void>;
}

export type ConsoleRebuildOutcome = 'fresh' | 'unknown' | 'rebuilt' | 'failed';

const reasonOf = (error: unknown): string => {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes("'vite'")) {
    return 'Vite is not installed (a devDependency: this install has none)';
  }
  return error instanceof Error ? error.message.split('\n')[0]! : String(error);
};

/**
 * `npm start` (`credence start`): the console's bundle rebuilt before the service starts when it is missing or older
 * than its sources (a `git pull` without `npm install`), with one line saying why; never when it is fresh. A failed
 * build does not stop the start: it is said on stderr, and the service then warns of the stale bundle (or answers
 * `/` with its 503 `console_not_built`). When freshness cannot be told (a source tree too large to walk, a source
 * dated in the future by every clock reading), one line on stderr says so and nothing is built: a rebuild would not
 * make it fresh, and every start would rebuild (review 48).
 */
export const rebuildStaleConsoleBundle = async (io: Io, rebuild: ConsoleRebuild = {}): Promise<ConsoleRebuildOutcome> => {
  const freshness = (rebuild.freshness ?? consoleBundleFreshness)();
  if (freshness.state === 'fresh') return 'fresh';
  if (freshness.state === 'unknown') {
    io.err(printable(`Cannot tell whether the web console's bundle matches its sources (${freshness.why}): starting with it as built; run npm run console:build if it does not.`));
    return 'unknown';
  }
  const what = freshness.state === 'missing' ? 'has not been built' : 'is older than its sources';
  io.out(printable(`The web console ${what} (${freshness.why}): building it (npm run console:build) before starting.`));
  try {
    await (rebuild.build ?? buildConsoleBundle)();
    return 'rebuilt';
  } catch (error) {
    const served =
      freshness.state === 'missing'
        ? 'the console at / answers 503 console_not_built'
        : 'the console at / is the old build, which may not match this service';
    io.err(printable(`Could not build the web console: ${reasonOf(error)}. Starting anyway: ${served} until npm run console:build succeeds.`));
    return 'failed';
  }
};
