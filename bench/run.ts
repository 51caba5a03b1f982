import { existsSync } from 'node:fs';
import { peakRssMiB } from './stats.ts';

/**
 * `npm run bench`: every benchmark in one process, one after another, figures printed as they come. Ratios
 * (engine vs raw store, adapter vs embedded store) are measured in the same run on the same rows.
 * BENCH_ONLY=engine,transparency runs a subset.
 */
const SUITES: [name: string, file: string, exportName: string][] = [
  ['engine', './engine.ts', 'benchEngine'],
  ['commands', './commands.ts', 'benchCommands'],
  ['memory', './memory.ts', 'benchMemory'],
  ['security', './security.ts', 'benchSecurity'],
  ['hsm', './hsm.ts', 'benchHsm'],
  ['revocation', './revocation.ts', 'benchRevocation'],
  ['pki-issuance', './pki-issuance.ts', 'benchPkiIssuance'],
  ['pki-revocation', './pki-revocation.ts', 'benchPkiRevocation'],
  ['transparency', './transparency.ts', 'benchTransparency'],
  ['projections', './projections.ts', 'benchProjections'],
  ['replay', './replay.ts', 'benchReplay'],
  ['eventstoredb', './eventstoredb.ts', 'benchEventStoreDb'],
  ['crash', './crash.ts', 'benchCrash'],
  ['http', './http.ts', 'benchHttp'],
  ['live-follow', './live-follow.ts', 'benchLiveFollow'],
  ['dangling-associations', './dangling-associations.ts', 'benchDanglingAssociations'],
];

const only = process.env['BENCH_ONLY']?.split(',');
// A misspelt name (`comands`) ran nothing and exited 0, as if the suite had passed.
const unknown = only?.filter((name) => !SUITES.some(([known]) => known === name)) ?? [];
if (unknown.length > 0) {
  process.stderr.write(`BENCH_ONLY: unknown suite ${unknown.map((u) => JSON.stringify(u)).join(', ')}; known: ${SUITES.map(([name]) => name).join(', ')}\n`);
  process.exit(1);
}
const report = (line: string) => process.stdout.write(`  ${line}\n`);
for (const [name, file, exportName] of SUITES) {
  if (only !== undefined && !only.includes(name)) continue;
  if (!existsSync(new URL(file, import.meta.url))) continue;
  process.stdout.write(`${name}\n`);
  const mod = (await import(file)) as Record<string, (r: (line: string) => void) => Promise<void>>;
  await mod[exportName]!(report);
}
process.stdout.write(`peak RSS of the bench process: ${peakRssMiB()}\n`);
