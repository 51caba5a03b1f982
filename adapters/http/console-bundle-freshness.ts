/**
 * Whether the web console's bundle (adapters/console/dist/, built by `npm run console:build`) was built from the
 * sources beside it: missing, stale (a source changed after the build, as after a `git pull` without `npm install`)
 * or fresh. `credence start` rebuilds a missing or stale one, the service warns of a stale one at startup, and the
 * browser tests rebuild it: one judgement for all three. Reads modification times only.
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
  | { readonly state: 'fresh'; readonly builtAt: Date };

export interface ConsoleBundleLayout {
  /** Where CONSOLE_BUNDLE_SOURCES are (default: this repository). */
  readonly root?: string;
  /** The bundle's folder (default: adapters/console/dist/ under the root). */
  readonly dist?: string;
  readonly maxEntries?: number;
}

const statOf = (path: string): Stats | undefined => {
  try {
    return lstatSync(path);
  } catch {
    return undefined; // a source this install does not hold (or that vanished while walked) is not newer than anything
  }
};

interface Newest {
  path: string;
  mtimeMs: number;
  entries: number;
}

/**
 * The most recently modified file or folder under the sources (a folder's time moves when an entry is added, removed
 * or renamed in it). Symbolic links are not followed, so the walk stays in the tree; it stops past `maxEntries`.
 */
const newestSource = (root: string, maxEntries: number): Newest => {
  const newest: Newest = { path: '', mtimeMs: -Infinity, entries: 0 };
  const pending = CONSOLE_BUNDLE_SOURCES.map((source) => join(root, source));
  while (pending.length > 0 && newest.entries <= maxEntries) {
    const path = pending.pop()!;
    const stat = statOf(path);
    if (stat === undefined || stat.isSymbolicLink()) continue;
    newest.entries += 1;
    if (stat.mtimeMs > newest.mtimeMs) Object.assign(newest, { path, mtimeMs: stat.mtimeMs });
    if (!stat.isDirectory()) continue;
    try {
      for (const name of readdirSync(path)) pending.push(join(path, name));
    } catch {
      // A folder that cannot be listed: its own time counted, its entries not.
    }
  }
  return newest;
};

/** Missing (no index.html in `dist`), stale (a source modified after index.html was written) or fresh. */
export const consoleBundleFreshness = (layout: ConsoleBundleLayout = {}): ConsoleBundleFreshness => {
  const root = layout.root ?? PROJECT_ROOT;
  const dist = layout.dist ?? join(root, 'adapters/console/dist');
  const maxEntries = layout.maxEntries ?? MAX_SOURCE_ENTRIES;
  const index = statOf(join(dist, 'index.html'));
  if (index === undefined || !index.isFile()) return { state: 'missing', why: `there is no build in ${dist}` };
  const builtAt = new Date(index.mtimeMs);
  const newest = newestSource(root, maxEntries);
  if (newest.entries > maxEntries) {
    return { state: 'stale', builtAt, why: `its sources hold more than ${maxEntries} files and folders, too many to compare with the build` };
  }
  if (newest.mtimeMs <= index.mtimeMs) return { state: 'fresh', builtAt };
  return {
    state: 'stale',
    builtAt,
    why: `${relative(root, newest.path)} changed at ${new Date(newest.mtimeMs).toISOString()}, after the build of ${builtAt.toISOString()}`,
  };
};
