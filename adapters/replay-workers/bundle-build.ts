import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { extname, join, relative, resolve } from 'node:path';
import type { Loader, Plugin } from 'esbuild';
import type { Paths } from './bundle-entries.ts';
import { lease, removeOldBuilds, touch } from './bundle-leases.ts';
import { loaderOf, type WorkerLoader } from './bundle-loader.ts';
import { BUILD_FORMAT, readManifest, sha256, staleness, type Manifest } from './bundle-manifest.ts';

/**
 * Packages loaded by Node at run time rather than bundled: native addons (better-sqlite3 loads a .node file). Their
 * entry file is an input of the manifest, so a reinstalled or moved package makes the bundle stale.
 */
const EXTERNAL = ['better-sqlite3'];

const requireFrom = (root: string): NodeJS.Require => createRequire(join(root, 'package.json'));

/** esbuild plugin: an EXTERNAL package is imported by the absolute path of its entry as resolved from the root. */
const externalByPath = (root: string): Plugin => ({
  name: 'credence-external-by-path',
  setup(build) {
    const names = new Set(EXTERNAL);
    build.onResolve({ filter: /^[^./]/ }, (args) => (names.has(args.path) ? { path: requireFrom(root).resolve(args.path), external: true } : undefined));
  },
});

/** The loader esbuild would pick by extension, for the kinds of file the worker's module graph holds. */
const LOADERS: Readonly<Record<string, Loader>> = { '.ts': 'ts', '.mts': 'ts', '.cts': 'ts', '.js': 'js', '.mjs': 'js', '.cjs': 'js', '.json': 'json' };

/**
 * esbuild plugin: every file is read here and handed to esbuild, and the SHA-256 of those very bytes is what the
 * manifest records (`loaded`, by absolute path). Hashing the files after the build instead would record an edit made
 * while esbuild ran as if it were in the bundle, and the stale bundle would pass every later check.
 */
const hashedLoad = (loaded: Map<string, string>): Plugin => ({
  name: 'credence-hashed-load',
  setup(build) {
    build.onLoad({ filter: /.*/, namespace: 'file' }, (args) => {
      const loader = LOADERS[extname(args.path)];
      if (loader === undefined) throw new Error(`${args.path}: no loader for this kind of file in a replay worker bundle`);
      const contents = readFileSync(args.path);
      loaded.set(args.path, sha256(contents));
      return { contents, loader };
    });
  },
});

/**
 * Builds the bundle of `entries` into a folder of its own and points the cache at it: esbuild writes to a temporary
 * folder, renamed once complete, then `current.json` is replaced by a rename, so a concurrent reader sees the old
 * build or the new one, whole. Build folders no manifest points to are removed after a grace period.
 */
export const buildBundle = async (paths: Paths, entries: Map<string, string>, root: string): Promise<WorkerLoader> => {
  const esbuild = await import('esbuild');
  mkdirSync(paths.keyDir, { recursive: true });
  const temporary = join(paths.keyDir, `building-${process.pid}-${randomBytes(6).toString('hex')}`);
  const loaded = new Map<string, string>();
  try {
    const result = await esbuild.build({
      absWorkingDir: root,
      entryPoints: Object.fromEntries(entries),
      outdir: temporary,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      // Native addons stay outside, imported by their resolved path: the bundle then runs from any folder.
      plugins: [externalByPath(root), hashedLoad(loaded)],
      // Class and function names stay what the sources say (errors and messages name them).
      keepNames: true,
      metafile: true,
      logLevel: 'silent',
    });
    const read: [string, string][] = [];
    for (const input of Object.keys(result.metafile.inputs)) {
      const hash = loaded.get(resolve(root, input));
      if (hash === undefined) throw new Error(`esbuild read ${input} past the hashing loader`);
      read.push([input, hash]);
    }
    // Not compiled into the bundle but loaded by it at run time: a reinstalled package makes the bundle stale.
    for (const name of EXTERNAL) {
      const entry = requireFrom(root).resolve(name);
      read.push([relative(root, entry), sha256(readFileSync(entry))]);
    }
    const inputs: Record<string, string> = {};
    for (const [input, hash] of read.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) inputs[input] = hash;
    const outputs: Record<string, string> = {};
    const entryOutputs: Record<string, { source: string; output: string }> = {};
    for (const [output, meta] of Object.entries(result.metafile.outputs)) {
      const rel = relative(temporary, resolve(root, output));
      outputs[rel] = sha256(readFileSync(resolve(root, output)));
      if (meta.entryPoint === undefined) continue;
      const name = [...entries].find(([, source]) => resolve(root, meta.entryPoint!) === source)?.[0];
      if (name !== undefined) entryOutputs[name] = { source: relative(root, entries.get(name)!), output: rel };
    }
    const build = sha256(JSON.stringify([BUILD_FORMAT, esbuild.version, inputs, outputs])).slice(0, 16);
    const manifest: Manifest = { format: BUILD_FORMAT, esbuild: esbuild.version, build, entries: entryOutputs, inputs, outputs };
    const buildDir = join(paths.keyDir, build);
    try {
      renameSync(temporary, buildDir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
      // The same build is there already: another process built the same sources (kept), or it was damaged since (replaced).
      if (staleness(manifest, buildDir, root) !== undefined) {
        rmSync(buildDir, { recursive: true, force: true });
        renameSync(temporary, buildDir);
      }
    }
    const previous = readManifest(paths.current);
    const pointer = `${paths.current}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    writeFileSync(pointer, JSON.stringify(manifest));
    renameSync(pointer, paths.current);
    // The grace of the build current until now starts now: a process that read its manifest just before has yet to
    // lease it, and its folder's time is when it was built (maybe long ago).
    if (previous.ok && previous.manifest.build !== build) touch(join(paths.keyDir, previous.manifest.build));
    lease(paths.keyDir, build);
    removeOldBuilds(paths.keyDir, build);
    const stale = staleness(manifest, buildDir, root);
    // A source edited after esbuild read it (its hash is of the bytes compiled): this build is stale already; the next
    // run builds again.
    return stale === undefined ? loaderOf(manifest, buildDir, entries, true) : { kind: 'tsx', reason: `the bundle just built is stale: ${stale}` };
  } finally {
    rmSync(temporary, { recursive: true, force: true });
  }
};
