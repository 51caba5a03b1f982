import { randomBytes } from 'node:crypto';
import { cpSync, lstatSync, mkdirSync, readdirSync, readlinkSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { CONSOLE_DIST, consoleBundleFreshness, PROJECT_ROOT, type ConsoleBundleFreshness } from '../../adapters/http/console-bundle-freshness.ts';
import { isProcessAlive } from '../../adapters/driven/files/process-alive.ts';
import type { Io } from '../io.ts';
import { printable } from '../printable.ts';

export interface ConsoleBuildOptions {
  /** Default: the config's own, adapters/console/dist/. */
  readonly outDir?: string;
  /** Vite's own lines: `error` (default) keeps the terminal to ours; the tests take `warn`. */
  readonly logLevel?: 'warn' | 'error' | 'silent';
}

/** A folder beside the bundle's of a build under way (`building`) or of the build it replaces (`previous`), with its pid. */
const BESIDE = /^\.(.+)\.(?:building|previous)-(\d+)-[0-9a-f]+$/;
/** An entry of a build being copied into a dist/ that stays (`copyInto`), under its own name until renamed, with its pid. */
const INCOMING = /^\.(.+)\.incoming-(\d+)-[0-9a-f]+$/;
const besideName = (outDir: string, what: 'building' | 'previous'): string =>
  join(dirname(outDir), `.${basename(outDir)}.${what}-${process.pid}-${randomBytes(6).toString('hex')}`);

/**
 * What a name `pattern` (BESIDE, INCOMING) gives a build's own file or folder is of (`of`: the entry it stands beside),
 * and whether the build that made it still runs: then it is that build's, in use (review 380 item 3: another npm
 * start's copy removed under it failed its rename); else a kill left it. Undefined for any other name.
 */
const leftBy = (pattern: RegExp, name: string): { readonly of: string; readonly running: boolean } | undefined => {
  const found = pattern.exec(name);
  // This process's own pid is no build under way: it has made none of its names yet (a container's start has the same
  // pid at every boot, review 383, and a killed one's leftovers were kept for ever as a running build's).
  return found === null ? undefined : { of: found[1]!, running: Number(found[2]) !== process.pid && isProcessAlive(Number(found[2])) };
};

/** The folders a build killed part-way left beside `outDir` (their pid gone): a running build's are its own. */
const removeLeftBehind = (outDir: string): void => {
  let names: string[];
  try {
    names = readdirSync(dirname(outDir));
  } catch {
    return;
  }
  for (const name of names) {
    const left = leftBy(BESIDE, name);
    if (left === undefined || left.of !== basename(outDir) || left.running) continue;
    rmSync(join(dirname(outDir), name), { recursive: true, force: true });
  }
};

/** Never removed from a dist/ whose contents are replaced: what Vite's own emptying spared, and a volume's own. */
const KEPT = new Set(['.git', 'lost+found']);

/**
 * The entries of the build in `from` copied into `to`, each to a name of its own in `to` then renamed over the old
 * one (a reader meets the old file or the new one, never part of one; `to` may be another file system than `from`).
 * Folders both have are merged; index.html goes last, once every asset it names is there.
 */
const copyInto = (from: string, to: string): void => {
  const names = readdirSync(from).sort((a, b) => Number(a === 'index.html') - Number(b === 'index.html'));
  for (const name of names) {
    const source = join(from, name);
    const target = join(to, name);
    const isFolder = lstatSync(source).isDirectory();
    const there = lstatSync(target, { throwIfNoEntry: false });
    if (isFolder && there?.isDirectory() === true) {
      copyInto(source, target);
      continue;
    }
    const incoming = join(to, `.${name}.incoming-${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      cpSync(source, incoming, { recursive: true });
      // A rename replaces a file by a file only: one of another kind goes first.
      if (there !== undefined && (isFolder || there.isDirectory())) rmSync(target, { recursive: true, force: true });
      renameSync(incoming, target);
    } finally {
      rmSync(incoming, { recursive: true, force: true });
    }
  }
};

/**
 * What `to` holds that the build in `from` does not (the old build's assets, a killed copy's `.incoming-` names),
 * removed; a running build's `.incoming-` names are kept (leftBy): another npm start copying into the same dist/.
 */
const removeOld = (from: string, to: string): void => {
  for (const name of readdirSync(to)) {
    if (KEPT.has(name) || leftBy(INCOMING, name)?.running === true) continue;
    const source = lstatSync(join(from, name), { throwIfNoEntry: false });
    const target = join(to, name);
    if (source === undefined) rmSync(target, { recursive: true, force: true });
    else if (source.isDirectory() && lstatSync(target).isDirectory()) removeOld(join(from, name), target);
  }
};

/** putInPlace where `outDir` (a folder, a link resolved) stays: the build copied into it, then what it no longer has removed. */
const replaceContents = (built: string, outDir: string): void => {
  copyInto(built, outDir);
  removeOld(built, outDir);
};

/** The folder a dist/ link names, made when missing (a link made ahead of the first build). */
const linkedFolder = (outDir: string): string => {
  try {
    return realpathSync(outDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    mkdirSync(resolve(dirname(outDir), readlinkSync(outDir)), { recursive: true });
    return realpathSync(outDir);
  }
};

/**
 * The whole build in `built` put at `outDir`: the old build moved aside, the new one renamed in, the old one removed.
 * What serves the bundle (adapters/http/routes/console.ts) and the freshness check read `outDir`'s index.html by its
 * path, which the rename keeps, with the time it was written. A build another `npm start` put there meanwhile (same
 * sources) is kept, and this one dropped.
 * Where `outDir` cannot be renamed (review 377 item 3), its contents are replaced entry by entry instead, as Vite did
 * in place before: a mount point (a volume, a bind mount: EBUSY, EXDEV), and a link, which a rename would replace by a
 * folder, leaving the folder it names stale. The old build is served until index.html is replaced, last but for the
 * removal of the old assets; a copy that fails part-way leaves the old index.html and its assets.
 */
const putInPlace = (built: string, outDir: string): void => {
  if (lstatSync(outDir, { throwIfNoEntry: false })?.isSymbolicLink() === true) return replaceContents(built, linkedFolder(outDir));
  const previous = besideName(outDir, 'previous');
  let moved = true;
  try {
    renameSync(outDir, previous);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // EPERM/EACCES: Windows refuses to rename a folder while a file in it is open (another instance, an indexer).
    if (code === 'EBUSY' || code === 'EXDEV' || code === 'EPERM' || code === 'EACCES') return replaceContents(built, outDir);
    if (code !== 'ENOENT') throw error;
    moved = false;
  }
  try {
    renameSync(built, outDir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') {
      if (moved) renameSync(previous, outDir);
      throw error;
    }
  }
  if (moved) rmSync(previous, { recursive: true, force: true });
};

/**
 * `npm run console:build` in process: Vite with the console's own config. Vite is a devDependency, loaded only
 * here: an install without devDependencies (`npm ci --omit=dev`) runs everything else, and this rejects.
 * Built into a folder beside `outDir` and put in its place only once whole (review 373 item 2): Vite empties its
 * outDir first, so a build that failed part-way (a full disk) left no old build to serve, but a truncated script.
 */
export const buildConsoleBundle = async (options: ConsoleBuildOptions = {}): Promise<void> => {
  const { build } = await import('vite');
  const outDir = resolve(options.outDir ?? CONSOLE_DIST);
  removeLeftBehind(outDir);
  const building = besideName(outDir, 'building');
  mkdirSync(building);
  try {
    await build({
      configFile: join(PROJECT_ROOT, 'adapters/console/vite.config.ts'),
      logLevel: options.logLevel ?? 'error',
      build: { outDir: building, emptyOutDir: true },
    });
    putInPlace(building, outDir);
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
};

export interface ConsoleRebuild {
  readonly freshness?: () => ConsoleBundleFreshness;
  readonly build?: () => Promise<void>;
}

export type ConsoleRebuildOutcome = 'fresh' | 'unknown' | 'rebuilt' | 'failed';

/** A terminal's escape sequences (CSI: colours, as Vite 8 writes its errors' codes in red). */
const ESCAPES = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;
/** The header Vite 8 (rolldown) puts before its errors, the same for every cause. */
const ERRORS_HEADER = /^Build failed with \d+ errors?:?$/;

/**
 * The first line of what made the build fail: of the first of Vite 8's errors (`errors`), past its "Build failed with
 * 1 error:" header, and past rolldown's "Something went wrong" to what follows its `Caused by:` where it says one
 * (review 373 item 2: "Build failed with 1 error:" was all that was said of a full disk). Without terminal escapes.
 */
const reasonOf = (error: unknown): string => {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes("'vite'")) {
    return 'Vite is not installed (a devDependency: this install has none)';
  }
  const first = (error as { errors?: unknown } | null)?.errors;
  const message = Array.isArray(first) && typeof (first[0] as { message?: unknown } | undefined)?.message === 'string'
    ? (first[0] as { message: string }).message
    : error instanceof Error ? error.message : String(error);
  const lines = message.replace(ESCAPES, '').split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '' && !ERRORS_HEADER.test(line));
  const caused = lines.indexOf('Caused by:');
  return (caused >= 0 ? lines[caused + 1] : lines[0]) ?? 'no reason given';
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
