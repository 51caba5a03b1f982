import { join, relative } from 'node:path';
import { buildBundle } from './bundle-build.ts';
import { entriesOf, PACKAGE_ROOT, pathsOf, type Paths } from './bundle-entries.ts';
import { lease } from './bundle-leases.ts';
import { asNamed, loaderOf, type WorkerLoader } from './bundle-loader.ts';
import { readManifest, staleness } from './bundle-manifest.ts';

/**
 * The replay workers' code as one prebuilt JavaScript bundle (esbuild), so that a worker thread starts without tsx:
 * no loader hooks thread, one module graph compiled by V8 instead of ~150 TypeScript modules transformed and linked
 * through the hooks. Measured on the shared 2-core machine, two workers ready to answer: 1.7 to 2.1 s of CPU through
 * tsx, 0.5 to 0.6 s from the bundle.
 *
 * The bundle is a cache of the sources, never a second source of truth: its manifest records the SHA-256 of every
 * input esbuild read (our TypeScript and the bundled packages) and of every file it wrote, and a bundle is used only
 * when all of them still match. A stale, partial or altered bundle is rebuilt, or if it cannot be (no esbuild, a
 * read-only folder) the workers load the TypeScript through tsx as before.
 *
 * The steps live beside this file: the entries and their cache folder (bundle-entries.ts), the manifest and its
 * freshness check (bundle-manifest.ts), the build (bundle-build.ts), the leases that keep a build in use
 * (bundle-leases.ts) and the loader handed to the pool (bundle-loader.ts).
 */

/** Where bundles are cached by default: the conventional package cache folder, next to the packages it bundles. */
export const DEFAULT_BUNDLE_CACHE = join(PACKAGE_ROOT, 'node_modules', '.cache', 'credence', 'replay-worker');

export interface WorkerBundleOptions {
  /** Where bundles are kept (default DEFAULT_BUNDLE_CACHE). */
  readonly cacheDir?: string;
  /** Build a missing or stale bundle now (default true); false only uses a fresh one already built. */
  readonly build?: boolean;
}

/** The fresh bundle of `entries` already in the cache, or why there is none. */
const freshBundle = (paths: Paths, entries: Map<string, string>, root: string): WorkerLoader => {
  const read = readManifest(paths.current);
  if (!read.ok) return { kind: 'tsx', reason: read.problem };
  const { manifest } = read;
  for (const [name, source] of entries) {
    if (manifest.entries[name]?.source !== relative(root, source)) return { kind: 'tsx', reason: `its entry ${name} is not ${relative(root, source)}` };
  }
  const buildDir = join(paths.keyDir, manifest.build);
  // Leased before it is checked: a rebuild by another process that removes it from now on fails this check instead
  // of the workers' imports.
  lease(paths.keyDir, manifest.build);
  const stale = staleness(manifest, buildDir, root);
  return stale === undefined ? loaderOf(manifest, buildDir, entries, false) : { kind: 'tsx', reason: `the bundle is stale: ${stale}` };
};

/**
 * How to start the replay workers: from the fresh bundle of the worker and `modules` (module URLs a worker imports
 * by name), built now if it is missing or stale and `build` allows it; otherwise through tsx, with the reason.
 * Never throws: a bundle that cannot be used or built leaves the workers on tsx.
 */
export const workerLoader = async (modules: readonly string[] = [], options: WorkerBundleOptions = {}): Promise<WorkerLoader> => {
  let entries: Map<string, string>;
  try {
    entries = entriesOf(modules);
  } catch (error) {
    return { kind: 'tsx', reason: (error as Error).message };
  }
  const paths = pathsOf(options.cacheDir ?? DEFAULT_BUNDLE_CACHE, entries, PACKAGE_ROOT);
  const fresh = freshBundle(paths, entries, PACKAGE_ROOT);
  if (fresh.kind === 'bundle' || options.build === false) return asNamed(fresh, modules);
  try {
    return asNamed(await buildBundle(paths, entries, PACKAGE_ROOT), modules);
  } catch (error) {
    return { kind: 'tsx', reason: `${fresh.reason}, and it could not be built: ${(error as Error).message.split('\n')[0]}` };
  }
};
