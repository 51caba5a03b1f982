import { consoleBundleFreshness } from '../../adapters/http/console-bundle-freshness.ts';
import { buildConsoleBundle } from '../../bin/commands/console-bundle.ts';

/**
 * The console's bundle for browser tests: rebuilt with the project's own Vite config when it is missing or older
 * than any of its sources (the console, the domain code it bundles, the config), so a test never runs yesterday's
 * bundle. The same judgement and build as `npm start` (adapters/http/console-bundle-freshness.ts); `npm install`
 * builds it too (`prepare`).
 */
export const ensureConsoleBundle = async (): Promise<void> => {
  if (consoleBundleFreshness().state === 'fresh') return;
  await buildConsoleBundle({ logLevel: 'warn' });
};
