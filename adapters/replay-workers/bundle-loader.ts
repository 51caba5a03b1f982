import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { realPathOf, WORKER_ENTRY } from './bundle-entries.ts';
import type { Manifest } from './bundle-manifest.ts';

/** How the workers are loaded: from a fresh bundle, or through tsx (with the reason a bundle was not used). */
export type WorkerLoader =
  | {
      readonly kind: 'bundle';
      /** The worker's entry in the bundle. */
      readonly worker: URL;
      /** Module URL a caller named (e.g. a PartitionSource's module) to its bundled counterpart. */
      readonly modules: ReadonlyMap<string, string>;
      /** The bundle was built by this call (on first use, or because the previous one was stale). */
      readonly built: boolean;
    }
  | { readonly kind: 'tsx'; readonly reason: string };

export const loaderOf = (manifest: Manifest, buildDir: string, entries: Map<string, string>, built: boolean): WorkerLoader => {
  const modules = new Map<string, string>();
  let worker: URL | undefined;
  for (const [name, source] of entries) {
    const output = manifest.entries[name]?.output;
    if (output === undefined) return { kind: 'tsx', reason: `the bundle has no entry ${name}` };
    // Only the outputs are checked by hash (staleness): an entry outside them would run unchecked.
    if (!Object.hasOwn(manifest.outputs, output)) return { kind: 'tsx', reason: `its entry ${name} is not one of its outputs (${output})` };
    const url = pathToFileURL(resolve(buildDir, output));
    if (name === WORKER_ENTRY) worker = url;
    else modules.set(pathToFileURL(source).href, url.href);
  }
  return { kind: 'bundle', worker: worker!, modules, built };
};

/**
 * The bundled modules keyed by the URLs exactly as the caller spelled them (`file://localhost/...`, percent-escapes):
 * the pool looks a PartitionSource's module up by its own string, and a miss would hand a bundled worker, which has
 * no TypeScript loader, the .ts file itself.
 */
export const asNamed = (loader: WorkerLoader, modules: readonly string[]): WorkerLoader => {
  if (loader.kind !== 'bundle') return loader;
  const named = new Map<string, string>();
  for (const url of modules) {
    let bundled: string | undefined;
    try {
      bundled = loader.modules.get(pathToFileURL(realPathOf(url)).href);
    } catch (error) {
      return { kind: 'tsx', reason: (error as Error).message };
    }
    if (bundled === undefined) return { kind: 'tsx', reason: `the bundle has no module for ${url}` };
    named.set(url, bundled);
  }
  return { ...loader, modules: named };
};
