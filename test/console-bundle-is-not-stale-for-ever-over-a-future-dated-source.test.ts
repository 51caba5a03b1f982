/**
 * Review 48: a console source dated in the future (clock skew, a tarball from a machine whose clock was ahead) made
 * the bundle stale before and after every rebuild, and a source tree past the entry cap stale for ever: `npm start`
 * rebuilt on every start. A future-dated file counts from when this machine wrote it (its inode's change time); what
 * cannot be told is `unknown`, said once and not rebuilt.
 */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { consoleBundleFreshness, type ConsoleBundleFreshness } from '../adapters/http/console-bundle-freshness.ts';
import { rebuildStaleConsoleBundle } from '../bin/commands/console-bundle.ts';
import { capture } from './support/cli.ts';

const BEFORE = new Date('2026-01-01T00:00:00Z');
const BUILT = new Date('2026-01-02T00:00:00Z');
const YEAR = 365 * 24 * 60 * 60 * 1000;

let root: string;
let index: string;
const touch = (path: string, at: Date): void => utimesSync(path, at, at);
const write = (path: string): void => {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, 'x');
  touch(path, BEFORE);
};

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'credence-console-future-'));
  for (const source of ['adapters/console/src/app.ts', 'adapters/console/index.html', 'adapters/console/vite.config.ts', 'domain/ids.ts']) write(join(root, source));
  for (const folder of ['adapters/console/src', 'adapters/console', 'domain']) touch(join(root, folder), BEFORE);
  index = join(root, 'adapters/console/dist/index.html');
  write(index);
  touch(index, BUILT);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('a console source dated in the future', () => {
  it('is a change, not a future date, when it runs ahead of the clock by less than the file system\'s slack', () => {
    // A source written in the millisecond of the check carries the fraction Date.now() drops (a CI run read it as dated
    // in the future: unknown instead of stale).
    const now = BUILT.getTime() + 60_000;
    touch(join(root, 'domain/ids.ts'), new Date(now + 500));
    expect(consoleBundleFreshness({ root, now })).toMatchObject({ state: 'stale', why: expect.stringMatching(/^domain\/ids\.ts changed at /) });
  });

  it('makes the bundle stale once, and a rebuild makes it fresh', () => {
    const now = Date.now() + 60_000;
    touch(join(root, 'domain/ids.ts'), new Date(Date.now() + YEAR));
    expect(consoleBundleFreshness({ root, now })).toEqual({ state: 'stale', builtAt: BUILT, why: expect.stringMatching(/^domain\/ids\.ts was written at .+ \(it is dated .+, in the future\), after the build of /) });
    // A rebuild writes index.html now (here a second later, so no clock resolution can order it before the source).
    const rebuilt = new Date(Math.ceil(Date.now() / 1_000) * 1_000 + 1_000); // whole seconds: no rounding by the file system
    touch(index, rebuilt);
    expect(consoleBundleFreshness({ root, now })).toEqual({ state: 'fresh', builtAt: rebuilt });
  });

  it('is unknown, not stale, when its last change is in the future too (the clock was set back)', () => {
    touch(join(root, 'domain/ids.ts'), new Date(Date.now() + YEAR));
    const setBack = Date.now() - 60_000;
    expect(consoleBundleFreshness({ root, now: setBack })).toEqual({ state: 'unknown', builtAt: BUILT, why: expect.stringContaining('domain/ids.ts is dated in the future') });
  });

  it('a build dated in the future counts from when it was written: a later edit makes it stale', () => {
    const now = Date.now() + 60_000;
    touch(index, new Date(Date.now() + YEAR));
    touch(join(root, 'domain/ids.ts'), new Date(Date.now() + 30_000));
    expect(consoleBundleFreshness({ root, now }).state).toBe('stale');
  });
});

describe('npm start over a bundle whose freshness is unknown', () => {
  it('builds nothing and says so in one line', async () => {
    const unknown: ConsoleBundleFreshness = { state: 'unknown', builtAt: BUILT, why: 'its sources hold more than 5000 files and folders, too many to compare with the build' };
    const { io, out, err } = capture();
    const build = vi.fn(async () => {});
    expect(await rebuildStaleConsoleBundle(io, { freshness: () => unknown, build })).toBe('unknown');
    expect(build).not.toHaveBeenCalled();
    expect(out).toEqual([]);
    expect(err).toEqual([expect.stringMatching(/^Cannot tell whether the web console's bundle matches its sources \(its sources hold more than 5000 .+\): starting with it as built; run npm run console:build if it does not\.$/)]);
  });

  it('over a tree past the entry cap', async () => {
    const { io, err } = capture();
    const build = vi.fn(async () => {});
    expect(await rebuildStaleConsoleBundle(io, { freshness: () => consoleBundleFreshness({ root, maxEntries: 3 }), build })).toBe('unknown');
    expect(build).not.toHaveBeenCalled();
    expect(err).toHaveLength(1);
  });
});
