import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

/**
 * The console's bundle for browser tests: rebuilt with the project's own Vite config when it is missing or older
 * than any of its sources (the console, the domain code it bundles, the config), so a test never runs yesterday's
 * bundle. `npm install` builds it too (`prepare`).
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CONSOLE = join(ROOT, 'adapters/console');
const INDEX = join(CONSOLE, 'dist/index.html');

const newest = (path: string): number => {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
};

const builtAt = (): number | undefined => {
  try {
    return statSync(INDEX).mtimeMs;
  } catch {
    return undefined;
  }
};

export const ensureConsoleBundle = async (): Promise<void> => {
  const sources = Math.max(newest(join(CONSOLE, 'src')), newest(join(CONSOLE, 'index.html')), newest(join(CONSOLE, 'vite.config.ts')), newest(join(ROOT, 'domain')));
  const built = builtAt();
  if (built !== undefined && built >= sources) return;
  await build({ configFile: join(CONSOLE, 'vite.config.ts'), logLevel: 'warn' });
};
