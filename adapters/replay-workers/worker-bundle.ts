import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Loader, Plugin } from 'esbuild';
import { z } from 'zod';

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
 */

/** Bump when the build options below change: a bundle built with other options is stale. */
const BUILD_FORMAT = 1;
/**
 * Packages loaded by Node at run time rather than bundled: native addons (better-sqlite3 loads a .node file). Their
 * entry file is an input of the manifest, so a reinstalled or moved package makes the bundle stale.
 */
const EXTERNAL = ['better-sqlite3'];
/** The worker's own entry; further entries are the modules a worker imports by URL (a PartitionSource's reader). */
const WORKER_ENTRY = 'replay-worker';
/**
 * A module's file by its real path: esbuild resolves symbolic links and names entries and inputs by the real path, so
 * a path through a link would never match the entry esbuild built (and every use would build again, for nothing).
 */
const realPathOf = (url: string | URL): string => realpathSync(fileURLToPath(url));
const WORKER_SOURCE = ((url: URL): string => {
  try {
    return realPathOf(url);
  } catch {
    return fileURLToPath(url); // Missing: no bundle can be built (workerLoader says so) and tsx reports the file.
  }
})(new URL('./replay-worker.ts', import.meta.url));
/** The package root (this file is adapters/replay-workers/worker-bundle.ts). */
const PACKAGE_ROOT = resolve(dirname(WORKER_SOURCE), '..', '..');
/** Where bundles are cached by default: the conventional package cache folder, next to the packages it bundles. */
export const DEFAULT_BUNDLE_CACHE = join(PACKAGE_ROOT, 'node_modules', '.cache', 'credence', 'replay-worker');
/**
 * A build directory no manifest points to any more is removed once this old and leased by no running process: the
 * grace covers a process that has read the manifest and not yet written its lease. It counts from when the build
 * stopped being current (its folder is touched then, `buildBundle`), not from when it was built.
 */
const STALE_BUILD_GRACE_MS = 60_000;
/** `lease.<build>.<pid>`: the process `pid` uses the build (see `lease`). */
const LEASE = /^lease\.([0-9a-f]{16})\.([1-9][0-9]{0,9})$/;

const RelPath = z.string().min(1).max(1_000);
const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);
/** The manifest of a build, as written next to it (parsed on read: it is stored data). */
const Manifest = z.strictObject({
  format: z.literal(BUILD_FORMAT),
  esbuild: z.string().min(1).max(50),
  build: z.string().regex(/^[0-9a-f]{16}$/),
  /** Entry name to its source (relative to the package root) and its output file (relative to the build folder). */
  entries: z.record(z.string().regex(/^[a-z0-9-]{1,64}$/), z.strictObject({ source: RelPath, output: RelPath })),
  inputs: z.record(RelPath, Sha256).refine((r) => Object.keys(r).length <= 5_000, 'at most 5,000 inputs'),
  outputs: z.record(RelPath, Sha256).refine((r) => Object.keys(r).length <= 1_000, 'at most 1,000 outputs'),
});
type Manifest = z.infer<typeof Manifest>;

export interface WorkerBundleOptions {
  /** Where bundles are kept (default DEFAULT_BUNDLE_CACHE). */
  readonly cacheDir?: string;
  /** Build a missing or stale bundle now (default true); false only uses a fresh one already built. */
  readonly build?: boolean;
}

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

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const inside = (path: string, dir: string): boolean => path === dir || path.startsWith(dir + sep);

/** The entries of a bundle: the worker, and each module URL a worker imports by name, keyed stably by its path. */
const entriesOf = (modules: readonly string[]): Map<string, string> => {
  const entries = new Map<string, string>([[WORKER_ENTRY, WORKER_SOURCE]]);
  for (const url of [...new Set(modules)].sort()) {
    if (!url.startsWith('file:')) throw new TypeError(`worker module ${url}: only file: URLs can be bundled`);
    // A missing file throws here (ENOENT, named): the workers then load it through tsx, which reports it as before.
    const path = realPathOf(url);
    entries.set(`module-${sha256(path).slice(0, 16)}`, path);
  }
  return entries;
};

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

/** What is wrong with the build `manifest` describes, or undefined when every input and output still matches. */
const staleness = (manifest: Manifest, buildDir: string, root: string): string | undefined => {
  for (const [input, hash] of Object.entries(manifest.inputs)) {
    let content: Buffer;
    try {
      content = readFileSync(resolve(root, input));
    } catch {
      return `its input ${input} is gone`;
    }
    if (sha256(content) !== hash) return `its input ${input} changed`;
  }
  for (const [output, hash] of Object.entries(manifest.outputs)) {
    const file = resolve(buildDir, output);
    if (!inside(file, buildDir)) return `its output ${output} is outside the build folder`;
    let content: Buffer;
    try {
      content = readFileSync(file);
    } catch {
      return `its output ${output} is missing`;
    }
    if (sha256(content) !== hash) return `its output ${output} was altered`;
  }
  return undefined;
};

const MAX_MANIFEST_BYTES = 1_000_000;

const readManifest = (file: string): { ok: true; manifest: Manifest } | { ok: false; problem: string } => {
  let raw: unknown;
  try {
    // Sized before it is read: a manifest is a few kilobytes, and whatever else sits there is not read into memory.
    if (statSync(file).size > MAX_MANIFEST_BYTES) return { ok: false, problem: `${file} is larger than a manifest can be` };
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    return { ok: false, problem: (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'none was built' : `${file} is unreadable (${(error as Error).message})` };
  }
  const parsed = Manifest.safeParse(raw);
  if (!parsed.success) return { ok: false, problem: `${file}: ${parsed.error.issues[0]!.path.join('.') || '(root)'}: ${parsed.error.issues[0]!.message}` };
  return { ok: true, manifest: parsed.data };
};

const loaderOf = (manifest: Manifest, buildDir: string, entries: Map<string, string>, built: boolean): WorkerLoader => {
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

interface Paths {
  readonly keyDir: string;
  readonly current: string;
}

const pathsOf = (cacheDir: string, entries: Map<string, string>, root: string): Paths => {
  const key = sha256(JSON.stringify([...entries].map(([name, source]) => [name, relative(root, source)]))).slice(0, 16);
  const keyDir = join(cacheDir, key);
  return { keyDir, current: join(keyDir, 'current.json') };
};

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
 * Marks `build` as used by this process for as long as it runs: its workers load the build's files when they start,
 * and a process may start workers again later. Another process's rebuild keeps a build while a process that leased
 * it is alive, however old the build is (`removeOldBuilds`). A lease that cannot be written (a read-only cache, where
 * no rebuild can remove anything either) is not needed. The leases of processes that have ended go at the same time:
 * without a rebuild nothing else removes them, and every process that used the bundle would leave one behind.
 */
const lease = (keyDir: string, build: string): void => {
  try {
    writeFileSync(join(keyDir, `lease.${build}.${process.pid}`), '');
    liveLeases(keyDir, readdirSync(keyDir));
  } catch {
    // See above.
  }
};

/** The builds leased by a running process among `names` (of `keyDir`); the leases of ended processes are removed. */
const liveLeases = (keyDir: string, names: readonly string[]): Set<string> => {
  const inUse = new Set<string>();
  for (const name of names) {
    const leased = LEASE.exec(name);
    if (leased === null) continue;
    if (running(Number(leased[2]))) inUse.add(leased[1]!);
    else {
      try {
        rmSync(join(keyDir, name), { force: true });
      } catch {
        // Not ours to remove (a cache shared between users): it only keeps a build longer.
      }
    }
  }
  return inUse;
};

/** Whether the process `pid` is running (EPERM: it is, under another user). */
const running = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Builds the bundle of `entries` into a folder of its own and points the cache at it: esbuild writes to a temporary
 * folder, renamed once complete, then `current.json` is replaced by a rename, so a concurrent reader sees the old
 * build or the new one, whole. Build folders no manifest points to are removed after a grace period.
 */
const buildBundle = async (paths: Paths, entries: Map<string, string>, root: string): Promise<WorkerLoader> => {
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

const touch = (path: string): void => {
  try {
    const now = new Date();
    utimesSync(path, now, now);
  } catch {
    // Gone already (removed by another process's rebuild): nothing to keep.
  }
};

/**
 * Keeps the cache bounded: every build folder but the current one, once no running process has leased it and none can
 * still be about to; leases of processes that have ended go too. Exported for tests.
 */
export const removeOldBuilds = (keyDir: string, current: string): void => {
  const names = readdirSync(keyDir);
  const inUse = liveLeases(keyDir, names);
  for (const name of names) {
    if (name === current || name === 'current.json' || name.endsWith('.tmp') || LEASE.test(name) || inUse.has(name)) continue;
    const path = join(keyDir, name);
    try {
      if (Date.now() - statSync(path).mtimeMs > STALE_BUILD_GRACE_MS) rmSync(path, { recursive: true, force: true });
    } catch {
      // Removed by another process meanwhile.
    }
  }
};

/**
 * The bundled modules keyed by the URLs exactly as the caller spelled them (`file://localhost/...`, percent-escapes):
 * the pool looks a PartitionSource's module up by its own string, and a miss would hand a bundled worker, which has
 * no TypeScript loader, the .ts file itself.
 */
const asNamed = (loader: WorkerLoader, modules: readonly string[]): WorkerLoader => {
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
