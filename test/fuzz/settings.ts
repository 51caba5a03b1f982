/**
 * How the fuzz suite runs (issue 10, property-based fuzzing): one seed for every property, so a run is
 * reproducible, and a number of runs per property that a developer or the bench can raise.
 *
 *   CREDENCE_FUZZ_SEED=<32-bit integer>   the seed of every property (default FUZZ_DEFAULT_SEED)
 *   CREDENCE_FUZZ_RUNS=<n>                runs per property (default 40: the fuzz folder runs in a few seconds)
 *   CREDENCE_FUZZ_PATH=<path>             replay only the failing counterexample at fast-check's shrink path (same seed,
 *                                         runs and file; run that one test: `npx vitest run test/fuzz/<file> -t <words>`)
 *   CREDENCE_FUZZ_REPORT=1                print per file how many inputs each property tried and how they ended
 *
 * A failure reports fast-check's seed and shrink path (`{ seed: …, path: "…" }`) and the counterexample; the test
 * name and every failure message of the suite carry the seed and the run count too. The same CREDENCE_FUZZ_SEED and
 * CREDENCE_FUZZ_RUNS reproduce the whole run; adding CREDENCE_FUZZ_PATH replays just the shrunk counterexample.
 */
import { afterAll } from 'vitest';
import type { Parameters } from 'fast-check';
import { isCredenceError, type CredenceError } from '../../domain/errors.ts';

export const FUZZ_DEFAULT_SEED = 0x0c4ed3ce;
const DEFAULT_RUNS = 40;

const integerFromEnv = (name: string, fallback: number, valid: (n: number) => boolean): number => {
  const text = process.env[name];
  if (text === undefined || text.trim() === '') return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || !valid(n)) throw new Error(`${name}=${text}: expected an integer (${name === 'CREDENCE_FUZZ_SEED' ? '32-bit' : 'at least 1'})`);
  return n;
};

export const FUZZ_SEED = integerFromEnv('CREDENCE_FUZZ_SEED', FUZZ_DEFAULT_SEED, (n) => n >= -(2 ** 31) && n < 2 ** 32) | 0;
export const FUZZ_RUNS = integerFromEnv('CREDENCE_FUZZ_RUNS', DEFAULT_RUNS, (n) => n >= 1);
const REPORT = process.env['CREDENCE_FUZZ_REPORT'] === '1';
const PATH = process.env['CREDENCE_FUZZ_PATH']?.trim() || undefined;

/** Said in every test name and every failure message of the suite. */
export const SEED_NOTE = `CREDENCE_FUZZ_SEED=${FUZZ_SEED} CREDENCE_FUZZ_RUNS=${FUZZ_RUNS}${PATH !== undefined ? ` CREDENCE_FUZZ_PATH=${PATH}` : ''}`;

/**
 * fast-check parameters of a property: the suite's seed, `scale` times the suite's runs (a property whose run is
 * costly takes a smaller share).
 */
export const fuzzParameters = (scale = 1): Pick<Parameters<unknown>, 'seed' | 'numRuns' | 'path'> => ({
  seed: FUZZ_SEED,
  numRuns: Math.max(1, Math.round(FUZZ_RUNS * scale)),
  ...(PATH !== undefined ? { path: PATH } : {}),
});

/** A vitest timeout for a property of `runs` runs costing about `msPerRun` each, with room for shrinking. */
export const timeoutFor = (scale: number, msPerRun: number): number => Math.max(60_000, Math.round(FUZZ_RUNS * scale * msPerRun * 4) + 60_000);

/** What one input ended in: a value, a typed refusal (by code), or anything else (the defect this suite hunts). */
export type Ending = { readonly kind: 'value'; readonly value: unknown } | { readonly kind: 'refused'; readonly error: CredenceError } | { readonly kind: 'untyped'; readonly error: unknown };

/** A broken invariant found by the suite itself: passed through `ending`, never mistaken for the code's exception. */
export class FuzzViolation extends Error {
  override readonly name = 'FuzzViolation';
}

export const ending = async (run: () => unknown): Promise<Ending> => {
  try {
    return { kind: 'value', value: await run() };
  } catch (error) {
    if (error instanceof FuzzViolation) throw error;
    return isCredenceError(error) ? { kind: 'refused', error } : { kind: 'untyped', error };
  }
};

/** A short description of a thrown value for a failure message (never the whole input). */
export const describeThrown = (error: unknown): string => {
  if (error instanceof Error) return `${error.name}: ${error.message.slice(0, 300)}\n${(error.stack ?? '').split('\n').slice(1, 6).join('\n')}`;
  return `${typeof error}: ${String(error).slice(0, 300)}`;
};

const defects = { untyped: 0, writesOnRejection: 0, other: 0 };

/** Fails the property with the seed in the message: an untyped exception is the defect this suite looks for. */
export const untyped = (where: string, error: unknown): never => {
  defects.untyped++;
  throw new FuzzViolation(`[${SEED_NOTE}] ${where} threw an untyped exception: ${describeThrown(error)}`);
};

/** Fails the property: a rejected input changed the store. */
export const wroteOnRejection = (what: string): never => {
  defects.writesOnRejection++;
  throw new FuzzViolation(`[${SEED_NOTE}] ${what}`);
};

/** Fails the property: any other broken invariant. */
export const violated = (what: string): never => {
  defects.other++;
  throw new FuzzViolation(`[${SEED_NOTE}] ${what}`);
};

/**
 * Counts, per property, the inputs tried and how they ended ('value', a CredenceError code, 'failed:<reason>' for
 * verification values, ...). Printed after the file with CREDENCE_FUZZ_REPORT=1.
 */
export const tally = (() => {
  const counts = new Map<string, Map<string, number>>();
  const started = Date.now();
  afterAll(() => {
    if (!REPORT) return;
    const lines = [...counts].map(([property, endings]) => {
      const total = [...endings.values()].reduce((a, b) => a + b, 0);
      const detail = [...endings].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ');
      return `  ${property}: ${total} inputs (${detail})`;
    });
    const total = [...counts.values()].flatMap((m) => [...m.values()]).reduce((a, b) => a + b, 0);
    const found = `${defects.untyped} untyped exceptions, ${defects.writesOnRejection} writes on rejection, ${defects.other} other violations`;
    console.log(`[fuzz ${SEED_NOTE}] ${total} inputs in ${((Date.now() - started) / 1000).toFixed(1)} s; ${found} (shrinking included)\n${lines.join('\n')}`);
  });
  return (property: string, endingKind: string): void => {
    const endings = counts.get(property) ?? new Map<string, number>();
    counts.set(property, endings);
    endings.set(endingKind, (endings.get(endingKind) ?? 0) + 1);
  };
})();
