import { pathToFileURL } from 'node:url';
import { describeRound, roundSeed, runRound, type RoundReport } from '../test/support/crash-round.ts';

/**
 * The crash durability suite of issue 10 at length: CREDENCE_CRASH_ROUNDS rounds (default 20) of a worker killed
 * with SIGKILL at seeded moments, each checked as test/crash-durability.test.ts checks its three. Prints every
 * round and the totals: acknowledged commands, lost (must be 0), partial (must be 0), commands in flight found
 * present / absent. CREDENCE_CRASH_SEED fixes the first round's seed (the others derive from it).
 *
 *   CREDENCE_CRASH_ROUNDS=20 node --import tsx bench/crash.ts
 *
 * Exit code 1 when a round fails, after printing its seed and problems.
 */
export async function benchCrash(report: (line: string) => void): Promise<boolean> {
  const rounds = Number(process.env['CREDENCE_CRASH_ROUNDS'] ?? 20);
  const given = process.env['CREDENCE_CRASH_SEED'];
  const base = given !== undefined ? Number(given) >>> 0 : Math.floor(Math.random() * 2 ** 32);
  const started = performance.now();
  const reports: RoundReport[] = [];
  for (let round = 0; round < rounds; round++) {
    const r = await runRound(roundSeed(base, round, given !== undefined));
    reports.push(r);
    report(`${r.problems.length === 0 ? 'ok  ' : 'FAIL'} ${describeRound(r)}`);
    for (const p of r.problems) report(`       ${p}`);
  }
  const sum = (f: (r: RoundReport) => number) => reports.reduce((n, r) => n + f(r), 0);
  const failed = reports.filter((r) => r.problems.length > 0);
  const kinds = (mode: string) => reports.filter((r) => r.plan.mode === mode).length;
  report(
    `crash durability: ${rounds} rounds (${kinds('engine')} store+engine, ${kinds('credence')} with projections and the log), ` +
      `${sum((r) => r.lives.length)} SIGKILLs (${sum((r) => r.lives.filter((l) => l.beforeReady).length)} while opening), ` +
      `in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  report(
    `acknowledged ${sum((r) => r.facts?.acked ?? 0)} commands: ${sum((r) => r.facts?.lost ?? 0)} lost, ${sum((r) => r.facts?.partial ?? 0)} partial; ` +
      `in flight at the kill: ${sum((r) => r.facts?.inFlightPresent ?? 0)} committed, ${sum((r) => r.facts?.inFlightAbsent ?? 0)} absent; ` +
      `${sum((r) => r.facts?.events ?? 0)} events checked, ${sum((r) => r.facts?.tablesCompared ?? 0)} read-model tables compared with a rebuild`,
  );
  report(failed.length === 0 ? 'every round passed' : `FAILED rounds, seeds: ${failed.map((r) => r.plan.seed).join(', ')}`);
  return failed.length === 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const ok = await benchCrash((line) => process.stdout.write(`  ${line}\n`));
  process.exitCode = ok ? 0 : 1;
}
