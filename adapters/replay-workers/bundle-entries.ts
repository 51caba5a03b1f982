import { realpathSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256 } from './bundle-manifest.ts';

/** The worker's own entry; further entries are the modules a worker imports by URL (a PartitionSource's reader). */
export const WORKER_ENTRY = 'replay-worker';
/**
 * A module's file by its real path: esbuild resolves symbolic links and names entries and inputs by the real path, so
 * a path through a link would never match the entry esbuild built (and every use would build again, for nothing).
 */
export const realPathOf = (url: string | URL): string => realpathSync(fileURLToPath(url));
const WORKER_SOURCE = ((url: URL): string => {
  try {
    return realPathOf(url);
  } catch {
    return fileURLToPath(url); // Missing: no bundle can be built (workerLoader says so) and tsx reports the file.
  }
})(new URL('./replay-worker.ts', import.meta.url));
/** The package root (the worker is adapters/replay-workers/replay-worker.ts). */
export const PACKAGE_ROOT = resolve(dirname(WORKER_SOURCE), '..', '..');

/** The entries of a bundle: the worker, and each module URL a worker imports by name, keyed stably by its path. */
export const entriesOf = (modules: readonly string[]): Map<string, string> => {
  const entries = new Map<string, string>([[WORKER_ENTRY, WORKER_SOURCE]]);
  for (const url of [...new Set(modules)].sort()) {
    if (!url.startsWith('file:')) throw new TypeError(`worker module ${url}: only file: URLs can be bundled`);
    // A missing file throws here (ENOENT, named): the workers then load it through tsx, which reports it as before.
    const path = realPathOf(url);
    entries.set(`module-${sha256(path).slice(0, 16)}`, path);
  }
  return entries;
};

export interface Paths {
  readonly keyDir: string;
  readonly current: string;
}

export const pathsOf = (cacheDir: string, entries: Map<string, string>, root: string): Paths => {
  const key = sha256(JSON.stringify([...entries].map(([name, source]) => [name, relative(root, source)]))).slice(0, 16);
  const keyDir = join(cacheDir, key);
  return { keyDir, current: join(keyDir, 'current.json') };
};
