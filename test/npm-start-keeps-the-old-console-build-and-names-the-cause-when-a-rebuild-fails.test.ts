/**
 * Review 373 item 2: when `npm start`'s rebuild of the console failed, it said only the first line of Vite's error,
 * which under Vite 8 is always "Build failed with 1 error:" (the cause, "No space left on device", on a later line),
 * and that "the console at / is the old build", though Vite empties its outDir first: on a 600 KB tmpfs the old
 * index.html and asset were gone and a truncated script left. The cause's first line is said now, and the bundle is
 * built into a folder beside the old one, put in its place only once whole.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { consoleBundleFreshness, type ConsoleBundleFreshness } from '../adapters/http/console-bundle-freshness.ts';
import { buildConsoleBundle, rebuildStaleConsoleBundle } from '../bin/commands/console-bundle.ts';
import { capture } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-console-rebuild-');

/** Vite's build as it meets a full disk: outDir emptied (emptyOutDir), part of a script written, then its error. */
const vite = vi.hoisted(() => ({ fails: false }));
vi.mock('vite', () => ({
  build: vi.fn(async (config: { build?: { outDir?: string; emptyOutDir?: boolean } }) => {
    const outDir = config.build!.outDir!;
    if (config.build?.emptyOutDir === true && existsSync(outDir)) for (const name of readdirSync(outDir)) rmSync(join(outDir, name), { recursive: true, force: true });
    mkdirSync(join(outDir, 'assets'), { recursive: true });
    if (vite.fails) {
      writeFileSync(join(outDir, 'assets', 'index-NEW.js'), 'export const trunc');
      throw Object.assign(new Error(VITE_8_FULL_DISK), { errors: [new Error(VITE_8_FULL_DISK.slice(VITE_8_FULL_DISK.indexOf('\u001b')))] });
    }
    writeFileSync(join(outDir, 'assets', 'index-NEW.js'), 'export const whole = 1;\n');
    writeFileSync(join(outDir, 'index.html'), '<script type="module" crossorigin src="/assets/index-NEW.js"></script>\n');
  }),
}));
/** Folders renaming which the system refuses as a mount point's (EBUSY): a volume or a bind mount at dist/. */
const mounts = vi.hoisted(() => ({ busy: new Set<string>() }));
vi.mock('node:fs', async (original) => {
  const fs = await original<typeof import('node:fs')>();
  const renameSync = ((from: import('node:fs').PathLike, to: import('node:fs').PathLike) => {
    if (mounts.busy.has(String(from))) throw Object.assign(new Error(`EBUSY: resource busy or locked, rename '${String(from)}' -> '${String(to)}'`), { code: 'EBUSY', syscall: 'rename', path: String(from) });
    return fs.renameSync(from, to);
  }) as typeof fs.renameSync;
  return { ...fs, renameSync, default: { ...fs, renameSync } };
});
afterEach(() => {
  vite.fails = false;
  mounts.busy.clear();
});

/** Vite 8's (rolldown's) error on a full disk, as met on a 600 KB tmpfs. */
const VITE_8_FULL_DISK =
  'Build failed with 1 error:\n\n\u001b[31m[UNHANDLEABLE_ERROR] \u001b[0mSomething went wrong inside rolldown, please report this problem at https://github.com/rolldown/rolldown/issues.\n' +
  'Failed to write file in /srv/credence/adapters/console/dist/assets/index-ZX5Xb1BL.js\n\nCaused by:\n    No space left on device (os error 28)\n\nStack backtrace:\n   0: <unknown>\n';

const BUILT = new Date('2026-01-02T00:00:00Z');
const stale: ConsoleBundleFreshness = { state: 'stale', builtAt: BUILT, why: 'domain/ids.ts changed at 2026-01-03T00:00:00.000Z, after the build of 2026-01-02T00:00:00.000Z' };

/** A folder holding an old build: index.html and its asset. */
const oldBuild = (): string => {
  const outDir = join(scratch(), 'dist');
  mkdirSync(join(outDir, 'assets'), { recursive: true });
  writeFileSync(join(outDir, 'assets', 'index-OLD.js'), 'export const old = 1;\n');
  writeFileSync(join(outDir, 'index.html'), '<script type="module" crossorigin src="/assets/index-OLD.js"></script>\n');
  return outDir;
};

describe("npm start's console rebuild that fails", () => {
  it("names the first line of Vite 8's cause, not its 'Build failed with 1 error:' header, without terminal escapes", async () => {
    const { io, err } = capture();
    const build = () => Promise.reject(Object.assign(new Error(VITE_8_FULL_DISK), { errors: [new Error(VITE_8_FULL_DISK.slice(VITE_8_FULL_DISK.indexOf('\u001b')))] }));
    expect(await rebuildStaleConsoleBundle(io, { freshness: () => stale, build })).toBe('failed');
    expect(err).toEqual([expect.stringContaining('Could not build the web console: No space left on device (os error 28). Starting anyway')]);
    expect(err[0]).not.toContain('Build failed with');
    expect(err[0]).not.toMatch(/\u001b|\\u001b/);
  });

  it("names the first line of the first error where Vite 8 gives no 'Caused by:'", async () => {
    const { io, err } = capture();
    const build = () => Promise.reject(new Error('Build failed with 1 error:\n\n\u001b[31m[UNRESOLVED_IMPORT] Error:\u001b[0m Could not resolve \'./gone.ts\' in src/app.ts\n   ╭─[ src/app.ts:1:8 ]'));
    expect(await rebuildStaleConsoleBundle(io, { freshness: () => stale, build })).toBe('failed');
    expect(err).toEqual([expect.stringContaining("Could not build the web console: [UNRESOLVED_IMPORT] Error: Could not resolve './gone.ts' in src/app.ts. Starting anyway")]);
  });

  it('leaves the old build whole where it was, and nothing of the failed one beside it', async () => {
    const outDir = oldBuild();
    vite.fails = true;
    await expect(buildConsoleBundle({ outDir, logLevel: 'silent' })).rejects.toThrow(/No space left on device/);
    expect(readdirSync(join(outDir, 'assets'))).toEqual(['index-OLD.js']);
    expect(readFileSync(join(outDir, 'index.html'), 'utf8')).toContain('/assets/index-OLD.js');
    expect(readdirSync(join(outDir, '..'))).toEqual(['dist']);
  });

  it('a build that succeeds replaces the old one whole, which the freshness check then takes as fresh', async () => {
    const outDir = oldBuild();
    await buildConsoleBundle({ outDir, logLevel: 'silent' });
    expect(readdirSync(join(outDir, 'assets'))).toEqual(['index-NEW.js']);
    expect(readFileSync(join(outDir, 'index.html'), 'utf8')).toContain('/assets/index-NEW.js');
    expect(readdirSync(join(outDir, '..'))).toEqual(['dist']);
    expect(consoleBundleFreshness({ dist: outDir }).state).toBe('fresh');
  });

  it('a first build (no old one) is put in place too', async () => {
    const outDir = join(scratch(), 'dist');
    await buildConsoleBundle({ outDir, logLevel: 'silent' });
    expect(existsSync(join(outDir, 'index.html'))).toBe(true);
    expect(readdirSync(join(outDir, '..'))).toEqual(['dist']);
  });

  it('a build folder a killed build left beside it is removed by the next build', async () => {
    const outDir = oldBuild();
    // A pid no process has (above Linux's pid_max): the build that left it is gone.
    mkdirSync(join(outDir, '..', '.dist.building-4194999-0123456789ab'));
    await buildConsoleBundle({ outDir, logLevel: 'silent' });
    expect(readdirSync(join(outDir, '..'))).toEqual(['dist']);
  });

  /*
   * Review 377 item 3: the build was put in place by renaming dist/ aside, which a mount point refuses (EBUSY: a
   * volume or a bind mount), so every stale rebuild failed where Vite had rewritten it in place; and a dist/ that is a
   * link was replaced by a folder, its target left stale. Both have the contents of the folder replaced instead.
   */
  it('a dist/ the system will not rename (a mount point, EBUSY) has its contents replaced by the new build', async () => {
    const outDir = oldBuild();
    mounts.busy.add(outDir);
    await buildConsoleBundle({ outDir, logLevel: 'silent' });
    expect(readdirSync(outDir).sort()).toEqual(['assets', 'index.html']);
    expect(readdirSync(join(outDir, 'assets'))).toEqual(['index-NEW.js']);
    expect(readFileSync(join(outDir, 'index.html'), 'utf8')).toContain('/assets/index-NEW.js');
    expect(readdirSync(join(outDir, '..'))).toEqual(['dist']);
    expect(consoleBundleFreshness({ dist: outDir }).state).toBe('fresh');
  });

  // Review 380 item 3: the removal of the old build's entries took another npm start's copies in flight too.
  it("replacing a mount point's contents keeps the files another running build is copying in, and removes a killed one's", async () => {
    const outDir = oldBuild();
    mounts.busy.add(outDir);
    // process.ppid: a process that runs; 4194999: above Linux's pid_max, a build that is gone.
    const running = [`.index.html.incoming-${process.ppid}-0123456789ab`, join('assets', `.index-OTHER.js.incoming-${process.ppid}-0123456789ab`)];
    const killed = [`.index.html.incoming-4194999-0123456789ab`, join('assets', '.index-OTHER.js.incoming-4194999-0123456789ab')];
    for (const name of [...running, ...killed]) writeFileSync(join(outDir, name), 'being copied\n');
    await buildConsoleBundle({ outDir, logLevel: 'silent' });
    expect(readdirSync(outDir).sort()).toEqual(['.index.html.incoming-' + process.ppid + '-0123456789ab', 'assets', 'index.html'].sort());
    expect(readdirSync(join(outDir, 'assets')).sort()).toEqual([`.index-OTHER.js.incoming-${process.ppid}-0123456789ab`, 'index-NEW.js'].sort());
  });

  // Review 383: a container's start has the same pid at every boot, and a killed one's leftovers named with it were
  // kept for ever as a running build's.
  it("removes leftovers named with this process's own pid, beside dist/ and in it", async () => {
    const outDir = oldBuild();
    mounts.busy.add(outDir);
    writeFileSync(join(outDir, `.index.html.incoming-${process.pid}-0123456789ab`), 'a killed copy\n');
    mkdirSync(join(outDir, '..', `.dist.previous-${process.pid}-0123456789ab`));
    await buildConsoleBundle({ outDir, logLevel: 'silent' });
    expect(readdirSync(outDir).sort()).toEqual(['assets', 'index.html']);
    expect(readdirSync(join(outDir, '..'))).toEqual(['dist']);
  });

  it('a failed build leaves a mount point dist/ as it was too', async () => {
    const outDir = oldBuild();
    mounts.busy.add(outDir);
    vite.fails = true;
    await expect(buildConsoleBundle({ outDir, logLevel: 'silent' })).rejects.toThrow(/No space left on device/);
    expect(readdirSync(join(outDir, 'assets'))).toEqual(['index-OLD.js']);
    expect(readFileSync(join(outDir, 'index.html'), 'utf8')).toContain('/assets/index-OLD.js');
  });

  it('a dist/ that is a link keeps its link, and the folder it names gets the new build', async () => {
    const target = oldBuild();
    const outDir = join(scratch(), 'dist');
    symlinkSync(target, outDir);
    await buildConsoleBundle({ outDir, logLevel: 'silent' });
    expect(lstatSync(outDir).isSymbolicLink()).toBe(true);
    expect(readdirSync(join(target, 'assets'))).toEqual(['index-NEW.js']);
    expect(readFileSync(join(target, 'index.html'), 'utf8')).toContain('/assets/index-NEW.js');
    expect(readdirSync(join(outDir, '..'))).toEqual(['dist']);
    expect(readdirSync(join(target, '..'))).toEqual(['dist']);
  });
});
