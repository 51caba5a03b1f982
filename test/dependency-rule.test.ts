// Proves the dependency rules in .dependency-cruiser.cjs can fail: a copy of the sources gets forbidden imports
// added, and dependency-cruiser must report each one under the rule that forbids it.
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cruise, type ICruiseResult } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';
import { settledWithin } from './support/settled-within.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SOURCE_FOLDERS = ['domain', 'machines', 'projections', 'adapters', 'bin'];
const ROOT_FILES = ['tsconfig.json', '.dependency-cruiser.cjs', 'package.json'];

interface Violation {
  rule: string;
  from: string;
  to: string;
}

/** One line per violation; a cycle is named by its two ends in path order, whichever edge dependency-cruiser reports. */
const key = (v: Violation): string =>
  v.rule === 'no-circular' ? `${v.rule}: ${[v.from, v.to].sort().join(' <-> ')}` : `${v.rule}: ${v.from} -> ${v.to}`;

/** Runs dependency-cruiser on `dir` with the config copied there, the way `npm run depcheck` does from the root. */
async function depcheck(dir: string): Promise<Violation[]> {
  const tsConfigFile = join(dir, 'tsconfig.json');
  const options = await extractDepcruiseOptions(join(dir, '.dependency-cruiser.cjs'));
  const reported = await cruise(
    SOURCE_FOLDERS,
    {
      ...options,
      baseDir: dir,
      tsConfig: { fileName: tsConfigFile },
      // node_modules in the copy is a symlink to the repository's; keep its path so npm packages stay node_modules/...
      preserveSymlinks: true,
      outputType: 'json',
    },
    {},
    { tsConfig: extractTSConfig(tsConfigFile) },
  );
  const result: ICruiseResult =
    typeof reported.output === 'string' ? (JSON.parse(reported.output) as ICruiseResult) : reported.output;
  const unresolved = result.modules.flatMap((m) =>
    m.dependencies.filter((d) => d.couldNotResolve).map((d) => `${m.source} -> ${d.module}`),
  );
  // An import dependency-cruiser cannot resolve would make the path rules meaningless for it.
  expect(unresolved).toEqual([]);
  return result.summary.violations.map((v) => ({ rule: v.rule.name, from: v.from, to: v.to }));
}

async function put(dir: string, file: string, text: string): Promise<void> {
  await mkdir(dirname(join(dir, file)), { recursive: true });
  await writeFile(join(dir, file), text);
}

/** Each forbidden import added to the copy, with the violation dependency-cruiser must report for it. */
const INJECTED = {
  domainToAdapters: {
    file: 'domain/uses-engine.ts',
    text: "export { Engine } from '../adapters/engine/index.ts';\n",
    expected: [
      { rule: 'domain-imports-only-domain', from: 'domain/uses-engine.ts', to: 'adapters/engine/index.ts' },
    ],
  },
  domainToBuiltin: {
    file: 'domain/reads-files.ts',
    text: "import { readFileSync } from 'node:fs';\nexport const read = readFileSync;\n",
    expected: [{ rule: 'domain-no-node-builtins', from: 'domain/reads-files.ts', to: 'fs' }],
  },
  domainToStoreClient: {
    file: 'domain/opens-sqlite.ts',
    text: "import Database from 'better-sqlite3';\nexport const open = (): Database.Database => new Database(':memory:');\n",
    expected: [{ rule: 'core-imports-only-pure-packages', from: 'domain/opens-sqlite.ts', to: 'node_modules/better-sqlite3/lib/index.js' }],
  },
  cycleA: {
    file: 'machines/cycle-a.ts',
    text: "import { b } from './cycle-b.ts';\nexport const a = (): number => b() + 1;\n",
    // dependency-cruiser reports a cycle once, on one of its edges
    expected: [{ rule: 'no-circular', from: 'machines/cycle-a.ts', to: 'machines/cycle-b.ts' }],
  },
  cycleB: {
    file: 'machines/cycle-b.ts',
    // type-only on purpose: `import type` is a dependency too (tsPreCompilationDeps)
    text: "import type { a } from './cycle-a.ts';\nexport const b = (): number => 1;\nexport type A = typeof a;\n",
    expected: [],
  },
  machinesToProjections: {
    file: 'machines/reads-projection.ts',
    text: "import type { DecodedEvent } from '../projections/runtime/types.ts';\nexport type E = DecodedEvent;\n",
    expected: [
      {
        rule: 'machines-import-only-machines-and-domain',
        from: 'machines/reads-projection.ts',
        to: 'projections/runtime/types.ts',
      },
    ],
  },
  engineToDriven: {
    file: 'adapters/engine/uses-store.ts',
    text: "export * from '../driven/store/index.ts';\n",
    expected: [
      {
        rule: 'driven-adapter-only-from-composition-root',
        from: 'adapters/engine/uses-store.ts',
        to: 'adapters/driven/store/index.ts',
      },
    ],
  },
  projectionsToAdapters: {
    file: 'projections/audit/uses-engine.ts',
    text: "export * from '../../adapters/engine/index.ts';\n",
    expected: [
      {
        rule: 'projections-import-only-projections-machines-domain',
        from: 'projections/audit/uses-engine.ts',
        to: 'adapters/engine/index.ts',
      },
    ],
  },
  drivenToDriven: {
    file: 'adapters/driven/transparency/uses-store.ts',
    text: "export * from '../store/index.ts';\n",
    expected: [
      {
        rule: 'driven-adapter-not-from-another-driven-adapter',
        from: 'adapters/driven/transparency/uses-store.ts',
        to: 'adapters/driven/store/index.ts',
      },
    ],
  },
  sharedFilesToDriven: {
    // the shared file utility folder is held to the rule like any driven folder
    file: 'adapters/driven/files/uses-store.ts',
    text: "export * from '../store/index.ts';\n",
    expected: [
      {
        rule: 'driven-adapter-not-from-another-driven-adapter',
        from: 'adapters/driven/files/uses-store.ts',
        to: 'adapters/driven/store/index.ts',
      },
    ],
  },
  drivenToSharedFiles: {
    // allowed: every driven adapter may use the shared file utilities (atomic writes of keys and KEKs)
    file: 'adapters/driven/secure-environment/uses-files.ts',
    text: "export * from '../files/index.ts';\n",
    expected: [],
  },
  protocolsToRuntime: {
    file: 'adapters/protocols/shared/uses-runtime.ts',
    text: "export * from '../../runtime/index.ts';\n",
    expected: [
      {
        rule: 'runtime-only-from-outer-edges',
        from: 'adapters/protocols/shared/uses-runtime.ts',
        to: 'adapters/runtime/index.ts',
      },
    ],
  },
  sameDrivenAdapter: {
    // allowed: one driven adapter's own folder, here two stores of the same store adapter
    file: 'adapters/driven/store/sqlite/uses-esdb-store.ts',
    text: "export * from '../eventstoredb/index.ts';\n",
    expected: [],
  },
  runtimeToDriven: {
    // allowed: the composition root wires concrete adapters
    file: 'adapters/runtime/uses-clock.ts',
    text: "export * from '../driven/clock/index.ts';\n",
    expected: [],
  },
  httpToDriven: {
    // the driving HTTP adapter gets the access registry through adapters/runtime/index.ts, never from its folder
    file: 'adapters/http/auth/uses-access-store.ts',
    text: "export * from '../../driven/access/index.ts';\n",
    expected: [
      {
        rule: 'driven-adapter-only-from-composition-root',
        from: 'adapters/http/auth/uses-access-store.ts',
        to: 'adapters/driven/access/index.ts',
      },
    ],
  },
  httpToRuntime: {
    // allowed: the service is built on a whole instance, from the composition root's public entry
    file: 'adapters/http/uses-runtime.ts',
    text: "export * from '../runtime/index.ts';\n",
    expected: [],
  },
  clientToRuntime: {
    // allowed: the HTTP client may use the composition root's public entry too
    file: 'adapters/client/uses-runtime.ts',
    text: "export type * from '../runtime/index.ts';\n",
    expected: [],
  },
  projectionsToHttp: {
    // type-only on purpose: the read side must not depend on the service, not even for a type
    file: 'projections/audit/uses-http.ts',
    text: "import type { ServiceContext } from '../../adapters/http/index.ts';\nexport type C = ServiceContext;\n",
    expected: [
      {
        rule: 'projections-import-only-projections-machines-domain',
        from: 'projections/audit/uses-http.ts',
        to: 'adapters/http/index.ts',
      },
      { rule: 'driving-adapters-only-from-outer-edges', from: 'projections/audit/uses-http.ts', to: 'adapters/http/index.ts' },
    ],
  },
  engineToHttp: {
    // the engine must not depend on its transport: the service drives the engine, never the reverse
    file: 'adapters/engine/uses-http.ts',
    text: "import type { ServiceContext } from '../http/index.ts';\nexport type C = ServiceContext;\n",
    expected: [{ rule: 'driving-adapters-only-from-outer-edges', from: 'adapters/engine/uses-http.ts', to: 'adapters/http/index.ts' }],
  },
  protocolsToClient: {
    file: 'adapters/protocols/shared/uses-client.ts',
    text: "export * from '../../client/http.ts';\n",
    expected: [{ rule: 'driving-adapters-only-from-outer-edges', from: 'adapters/protocols/shared/uses-client.ts', to: 'adapters/client/http.ts' }],
  },
} satisfies Record<string, { file: string; text: string; expected: Violation[] }>;

/** The one violation an injected file must produce. */
const only = (v: Violation[]): string => {
  expect(v).toHaveLength(1);
  return key(v[0]!);
};

describe('dependency rules (.dependency-cruiser.cjs)', () => {
  let dir = '';
  let clean: Violation[] = [];
  let injected: Set<string> = new Set();

  let setup: Promise<void> | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'credence-depcheck-'));
    setup = (async () => {
      // Every copy finished before a failed one is told: one still under way would make the folder again after afterAll.
      const copies = await Promise.allSettled([
        ...SOURCE_FOLDERS.map((folder) => cp(join(ROOT, folder), join(dir, folder), { recursive: true })),
        ...ROOT_FILES.map((file) => cp(join(ROOT, file), join(dir, file))),
        symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir'),
      ]);
      for (const copy of copies) if (copy.status === 'rejected') throw copy.reason;
      clean = await depcheck(dir);
      for (const { file, text } of Object.values(INJECTED)) await put(dir, file, text);
      const before = new Set(clean.map(key));
      // Only what the injected files add: a violation already in the tree must not make these tests pass or fail.
      injected = new Set((await depcheck(dir)).map(key).filter((k) => !before.has(k)));
    })();
    await setup;
    // Two whole dependency-cruiser runs over a copy of the tree: on a loaded CI machine they passed 60 s.
  }, 240_000);

  afterAll(async () => {
    // A setup the beforeAll's timeout gave up on still writes the copy (put): awaited first, for a minute at most, or
    // the copy it made again after the removal stayed behind.
    await settledWithin(setup, 60_000);
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 70_000);

  it('reports no violation on an unmodified copy of the sources', () => {
    expect(clean.map(key)).toEqual([]);
  });

  it('refuses an import from domain/ to adapters/', () => {
    expect(injected).toContain(only(INJECTED.domainToAdapters.expected));
  });

  it('refuses a node: builtin in domain/', () => {
    expect(injected).toContain(only(INJECTED.domainToBuiltin.expected));
  });

  it('refuses an I/O package (better-sqlite3) in domain/', () => {
    expect(injected).toContain(only(INJECTED.domainToStoreClient.expected));
  });

  it('refuses a two-file import cycle, type-only imports included', () => {
    expect(injected).toContain(only(INJECTED.cycleA.expected));
  });

  it('refuses an import from machines/ to projections/, type-only included', () => {
    expect(injected).toContain(only(INJECTED.machinesToProjections.expected));
  });

  it('refuses an import from adapters/engine to a concrete driven adapter', () => {
    expect(injected).toContain(only(INJECTED.engineToDriven.expected));
  });

  it('refuses an import from projections/ to adapters/', () => {
    expect(injected).toContain(only(INJECTED.projectionsToAdapters.expected));
  });

  it('refuses an import from one driven adapter to another', () => {
    expect(injected).toContain(only(INJECTED.drivenToDriven.expected));
  });

  it('refuses an import from the shared file utilities to a driven adapter', () => {
    expect(injected).toContain(only(INJECTED.sharedFilesToDriven.expected));
  });

  it('refuses an import of adapters/runtime from outside the outer edges', () => {
    expect(injected).toContain(only(INJECTED.protocolsToRuntime.expected));
  });

  it('refuses an import from adapters/http to a concrete driven adapter', () => {
    expect(injected).toContain(only(INJECTED.httpToDriven.expected));
  });

  it('refuses an import from projections/ to adapters/http, type-only included, under both rules it breaks', () => {
    for (const v of INJECTED.projectionsToHttp.expected) expect(injected).toContain(key(v));
  });

  it('refuses an import from the engine or the protocols to the driving adapters (service, client)', () => {
    expect(injected).toContain(only(INJECTED.engineToHttp.expected));
    expect(injected).toContain(only(INJECTED.protocolsToClient.expected));
  });

  it('reports exactly the injected violations: same-adapter, shared-files, composition-root and driving-adapter imports of adapters/runtime stay allowed', () => {
    const expected = Object.values(INJECTED).flatMap((i): Violation[] => i.expected);
    expect([...injected].sort()).toEqual(expected.map(key).sort());
  });
});
