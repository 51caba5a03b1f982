/**
 * Whether the web console's bundle (adapters/console/dist/, built by `npm run console:build`) was built from the
 * sources beside it: missing, stale (a source changed after the build, as after a `git pull` without `npm install`),
 * fresh, or unknown (the sources cannot be compared with the build). `credence start` rebuilds a missing or stale
 * one and says so of an unknown one, the service warns of a stale one at startup, and the browser tests rebuild it:
 * one judgement for all three. Reads modification times, and the time of a file's last change where its
 * modification time is in the future.
 */
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root, where the console's sources are. */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where `vite build --config adapters/console/vite.config.ts` writes the bundle (gitignored). */
export const CONSOLE_DIST = join(PROJECT_ROOT, 'adapters/console/dist/');

/** What the bundle is built from, under the root: the console, its page and config, and the domain code it bundles. */
export const CONSOLE_BUNDLE_SOURCES = ['adapters/console/src', 'adapters/console/index.html', 'adapters/console/vite.config.ts', 'domain'] as const;

/**
 * Far above what the sources hold (some 200 files and folders): a tree past it is not what the console is built
 * from (a dependency folder copied under domain/, say), and is not walked further.
 */
export const MAX_SOURCE_ENTRIES = 5_000;

export type ConsoleBundleFreshness =
  | { readonly state: 'missing'; readonly why: string }
  | { readonly state: 'stale'; readonly builtAt: Date; readonly why: string }
  | { readonly state: 'fresh'; readonly builtAt: Date }
  /** Neither fresh nor stale: rebuilding would not make it fresh, so it is said, not rebuilt on every start. */
  | { readonly state: 'unknown'; readonly builtAt: Date; readonly why: string };

export interface ConsoleBundleLayout {
  /** Where CONSOLE_BUNDLE_SOURCES are (default: this repository). */
  readonly root?: string;
  /** The bundle's folder (default: adapters/console/dist/ under the root). */
  readonly dist?: string;
  readonly maxEntries?: number;
  /** The clock's time in ms (default: Date.now()): a time after it is in the future. */
  readonly now?: number;
}

const statOf = (path: string): Stats | undefined => {
  try {
    return lstatSync(path);
  } catch {
    return undefined; // a source this install does not hold (or that vanished while walked) is not newer than anything
  }
};

/**
 * How far a file's time may run ahead of `Date.now()` and still be now: a file written in the same millisecond carries
 * the fraction `Date.now()` drops, and some file systems stamp from a coarser or another clock. Past it, the time is in
 * the future (a file dated by a machine whose clock was ahead). Without it, a source changed just before the check was
 * read as dated in the future (a CI run found it: `unknown` instead of `stale`).
 */
const CLOCK_SLACK_MS = 2_000;
const inTheFuture = (timeMs: number, now: number): boolean => timeMs > now + CLOCK_SLACK_MS;

/**
 * When a file or folder last changed by this machine's clock: its modification time, unless that is in the future
 * (clock skew, a tarball from a machine whose clock was ahead; review 48: such a source made the bundle stale before
 * and after every rebuild). Then the time its inode last changed, which this machine's clock set when it was written
 * or unpacked, and no tool sets back. `undefined` when both are in the future (the clock was set back): no time.
 */
const localTimeOf = (stat: Stats, now: number): number | undefined => {
  if (!inTheFuture(stat.mtimeMs, now)) return stat.mtimeMs;
  return inTheFuture(stat.ctimeMs, now) ? undefined : stat.ctimeMs;
};

interface Newest {
  path: string;
  changedAt: number;
  entries: number;
  /** A source with no time by this clock (both its times in the future), if one was met. */
  undated?: string;
}

/**
 * The most recently changed file or folder under the sources (a folder's time moves when an entry is added, removed
 * or renamed in it). Symbolic links are not followed, so the walk stays in the tree; it stops past `maxEntries`.
 */
const newestSource = (root: string, maxEntries: number, now: number): Newest => {
  const newest: Newest = { path: '', changedAt: -Infinity, entries: 0 };
  const pending = CONSOLE_BUNDLE_SOURCES.map((source) => join(root, source));
  while (pending.length > 0 && newest.entries <= maxEntries) {
    const path = pending.pop()!;
    const stat = statOf(path);
    if (stat === undefined || stat.isSymbolicLink()) continue;
    newest.entries += 1;
    const changedAt = localTimeOf(stat, now);
    if (changedAt === undefined) newest.undated ??= path;
    else if (changedAt > newest.changedAt) Object.assign(newest, { path, changedAt });
    if (!stat.isDirectory()) continue;
    try {
      for (const name of readdirSync(path)) pending.push(join(path, name));
    } catch {
      // A folder that cannot be listed: its own time counted, its entries not.
    }
  }
  return newest;
};

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * Missing (no index.html in `dist`), stale (a source changed after index.html was written), fresh, or unknown: a
 * tree past `maxEntries` (not what the console is built from) or a source dated in the future by both its times.
 * Neither is made fresh by a rebuild, so neither is called stale (review 48: `npm start` rebuilt on every start).
 */
export const consoleBundleFreshness = (layout: ConsoleBundleLayout = {}): ConsoleBundleFreshness => {
  const root = layout.root ?? PROJECT_ROOT;
  const dist = layout.dist ?? join(root, 'adapters/console/dist');
  const maxEntries = layout.maxEntries ?? MAX_SOURCE_ENTRIES;
  const now = layout.now ?? Date.now();
  const index = statOf(join(dist, 'index.html'));
  if (index === undefined || !index.isFile()) return { state: 'missing', why: `there is no build in ${dist}` };
  const builtAt = new Date(index.mtimeMs);
  // A build dated in the future would be fresh against every later edit: it counts from when it was written.
  const built = localTimeOf(index, now) ?? now;
  const newest = newestSource(root, maxEntries, now);
  if (newest.entries > maxEntries) {
    return { state: 'unknown', builtAt, why: `its sources hold more than ${maxEntries} files and folders, too many to compare with the build` };
  }
  if (newest.changedAt > built) {
    const path = relative(root, newest.path);
    const stat = statOf(newest.path);
    const when = stat !== undefined && inTheFuture(stat.mtimeMs, now) ? `was written at ${iso(newest.changedAt)} (it is dated ${iso(stat.mtimeMs)}, in the future)` : `changed at ${iso(newest.changedAt)}`;
    return { state: 'stale', builtAt, why: `${path} ${when}, after the build of ${iso(built)}` };
  }
  if (newest.undated !== undefined) {
    return { state: 'unknown', builtAt, why: `${relative(root, newest.undated)} is dated in the future, and so is its last change (was the clock set back?)` };
  }
  return { state: 'fresh', builtAt };
};
