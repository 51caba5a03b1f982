import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { workerLoader } from './worker-bundle.ts';

/**
 * `npm run replay-workers:build` (run by `prepare` at install): builds the replay workers' bundle into the cache, for
 * the routed workers and, for each module named on the command line (a PartitionSource's reader, e.g.
 * adapters/driven/store/sqlite/events-db-reader.ts), for workers that import it. Replays would build a missing or
 * stale bundle on first use anyway; this spares the first one the build. Exit 1 when a bundle could not be built.
 */
const modules = process.argv.slice(2).map((path) => pathToFileURL(resolve(path)).href);
let failed = false;
for (const set of [[], ...modules.map((m) => [m])]) {
  const loader = await workerLoader(set);
  const what = set.length === 0 ? 'routed workers' : `workers reading through ${set[0]}`;
  if (loader.kind === 'bundle') console.log(`replay worker bundle for ${what}: ${loader.built ? 'built' : 'up to date'}`);
  else {
    failed = true;
    console.error(`replay worker bundle for ${what}: not built (${loader.reason}); workers will load through tsx`);
  }
}
process.exitCode = failed ? 1 : 0;
