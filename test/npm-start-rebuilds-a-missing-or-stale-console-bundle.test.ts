/**
 * `npm start` (`credence start`) rebuilds the console's bundle before the service starts when it is missing or older
 * than its sources, saying why in one line, and never when it is fresh; a build that fails (Vite missing from an
 * install without devDependencies) does not stop the start and is said plainly.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { ConsoleBundleFreshness } from '../adapters/http/console-bundle-freshness.ts';
import { buildConsoleBundle, rebuildStaleConsoleBundle } from '../bin/commands/console-bundle.ts';
import { capture } from './support/cli.ts';

const BUILT = new Date('2026-01-02T00:00:00Z');
const stale: ConsoleBundleFreshness = { state: 'stale', builtAt: BUILT, why: 'domain/ids.ts changed at 2026-01-03T00:00:00.000Z, after the build of 2026-01-02T00:00:00.000Z' };
const missing: ConsoleBundleFreshness = { state: 'missing', why: 'there is no build in /srv/credence/adapters/console/dist' };

describe('the console bundle at npm start', () => {
  it('is not rebuilt when fresh, and nothing is said', async () => {
    const { io, out, err } = capture();
    const build = vi.fn(async () => {});
    expect(await rebuildStaleConsoleBundle(io, { freshness: () => ({ state: 'fresh', builtAt: BUILT }), build })).toBe('fresh');
    expect(build).not.toHaveBeenCalled();
    expect([...out, ...err]).toEqual([]);
  });

  it.each([
    ['stale', stale, /^The web console is older than its sources \(domain\/ids\.ts changed at .+\): building it \(npm run console:build\) before starting\.$/],
    ['missing', missing, /^The web console has not been built \(there is no build in .+\): building it \(npm run console:build\) before starting\.$/],
  ])('is rebuilt when %s, with one line saying why', async (_state, freshness, line) => {
    const { io, out, err } = capture();
    const build = vi.fn(async () => {});
    expect(await rebuildStaleConsoleBundle(io, { freshness: () => freshness, build })).toBe('rebuilt');
    expect(build).toHaveBeenCalledOnce();
    expect(out).toEqual([expect.stringMatching(line)]);
    expect(err).toEqual([]);
  });

  it('starts anyway when Vite is not installed, and says what the console will be', async () => {
    const viteMissing = Object.assign(new Error("Cannot find package 'vite' imported from /srv/credence/bin/commands/console-bundle.ts"), { code: 'ERR_MODULE_NOT_FOUND' });
    for (const [freshness, served] of [[stale, 'the old build'], [missing, '503 console_not_built']] as const) {
      const { io, out, err } = capture();
      expect(await rebuildStaleConsoleBundle(io, { freshness: () => freshness, build: () => Promise.reject(viteMissing) })).toBe('failed');
      expect(out).toHaveLength(1);
      expect(err).toEqual([expect.stringMatching(/^Could not build the web console: Vite is not installed \(a devDependency: this install has none\)\. Starting anyway: /)]);
      expect(err[0]).toContain(served);
      expect(err[0]).toContain('npm run console:build');
    }
  });

  it('starts anyway when the build fails, naming the first line of its error', async () => {
    const { io, err } = capture();
    const build = () => Promise.reject(new Error('[vite]: Rolldown failed to resolve import "./gone.ts"\n  at a stack line'));
    expect(await rebuildStaleConsoleBundle(io, { freshness: () => stale, build })).toBe('failed');
    expect(err).toEqual([expect.stringContaining('Could not build the web console: [vite]: Rolldown failed to resolve import "./gone.ts". Starting anyway')]);
    expect(err[0]).not.toContain('stack line');
  });

  it('builds with the console config into the folder asked for (a real Vite build)', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'credence-console-build-'));
    try {
      await buildConsoleBundle({ outDir, logLevel: 'silent' });
      const page = readFileSync(join(outDir, 'index.html'), 'utf8');
      const script = /<script type="module" crossorigin src="\/(assets\/[^"]+\.js)">/.exec(page)?.[1];
      expect(script).toBeDefined();
      expect(existsSync(join(outDir, script!))).toBe(true);
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  }, 60_000);
});
