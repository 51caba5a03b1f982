/**
 * Review 192, finding 3: a console bundle built during a test run (vitest sets NODE_ENV=test) was a Lit development
 * build: Vite resolves the `development` export condition unless NODE_ENV is `production`, and that bundle replaced
 * the shared adapters/console/dist, so `serve` and `npm start` logged "Lit is in dev mode" in every browser (the
 * freshness check judges by dates only, and took it as fresh). The console's build is now production whatever
 * NODE_ENV says.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildConsoleBundle } from '../bin/commands/console-bundle.ts';

/** What only Lit's development build holds (lit-html's own warning when it starts). */
const DEV_MODE_WARNING = 'Lit is in dev mode';

const scripts = (outDir: string): string => {
  const assets = join(outDir, 'assets');
  return readdirSync(assets)
    .filter((name) => name.endsWith('.js'))
    .map((name) => readFileSync(join(assets, name), 'utf8'))
    .join('\n');
};

describe("the console's bundle", () => {
  const before = process.env['NODE_ENV'];
  const outDirs: string[] = [];
  afterEach(() => {
    process.env['NODE_ENV'] = before;
    for (const dir of outDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it.each(['test', 'development'])('is built with Lit\'s production export under NODE_ENV=%s', async (nodeEnv) => {
    process.env['NODE_ENV'] = nodeEnv;
    const outDir = mkdtempSync(join(tmpdir(), 'credence-console-production-'));
    outDirs.push(outDir);
    await buildConsoleBundle({ outDir, logLevel: 'silent' });
    const bundle = scripts(outDir);
    expect(bundle.length).toBeGreaterThan(0);
    expect(bundle.includes(DEV_MODE_WARNING), "the bundle holds Lit's dev-mode warning").toBe(false);
  }, 120_000);
});
