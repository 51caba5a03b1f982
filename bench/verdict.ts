/**
 * The verdicts the benches print against issue 15's targets (review 446). A target is for a size: 100,000 nodes
 * rotated, 1,000,000 credentials stored, a rate over enough work to outlast its start-up. A run smaller than that says
 * nothing of the target, so its verdict is "n/a (why)", never MET. Pure: the benches measure, this judges.
 */

const n = (x: number) => x.toLocaleString('en-US');

/**
 * The least a side of a ratio (or a rate judged against a target) must have run: 1,000 operations and 0.5 s. Below
 * that the rate is mostly start-up (the first statements prepared, the WAL file made, code not yet optimised) and the
 * timer's grain (a 1-row side divides by a few µs, a 0-row side by zero); the defaults are above it on both counts
 * (1,500 raw FULL rows at a sync each take over a second; the engine's 2,000 nodes are some 13,000 commands).
 */
export const MIN_RATE_COUNT = 1_000;
export const MIN_RATE_MS = 500;

/** One measured side of a ratio: `count` `unit` (commands, rows) in `ms`. */
export interface RateSide {
  readonly label: string;
  readonly count: number;
  readonly unit: string;
  readonly ms: number;
}

const tooSmall = (s: RateSide): string | undefined =>
  Number.isFinite(s.count) && Number.isFinite(s.ms) && s.count >= MIN_RATE_COUNT && s.ms >= MIN_RATE_MS
    ? undefined
    : `${s.label} ran ${n(s.count)} ${s.unit} in ${(s.ms / 1000).toFixed(2)}s`;

/**
 * `a`'s rate over `b`'s, "1.23x", judged against `target` when given ("(target >= 5.0x: MET)" or MISSED); "n/a (why)"
 * when either side ran less than MIN_RATE_COUNT operations or MIN_RATE_MS, or the ratio is not a finite number > 0.
 */
export const ratioVerdict = (a: RateSide, b: RateSide, target?: number): string => {
  const short = [a, b].map(tooSmall).filter((s) => s !== undefined);
  if (short.length > 0) return `n/a (${short.join(', ')}; a rate needs >= ${n(MIN_RATE_COUNT)} and >= ${MIN_RATE_MS / 1000} s on each side)`;
  const ratio = (a.count / a.ms) / (b.count / b.ms);
  if (!Number.isFinite(ratio) || ratio <= 0) return `n/a (the ratio is ${ratio})`;
  return target === undefined ? `${ratio.toFixed(2)}x` : `${ratio.toFixed(2)}x (target >= ${target.toFixed(1)}x: ${ratio >= target ? 'MET' : 'MISSED'})`;
};

/** One size a target is for: what this run had of it and what the target needs. */
export interface SizeNeeded {
  readonly what: string;
  readonly ran: number;
  readonly needs: number;
}

/**
 * `words[0]` (MET) when `ok`, `words[1]` (NOT MET) otherwise, for a run at the size of its target; a run short of any
 * size is "n/a (the target is for 100,000 nodes; this run: 300 nodes)" whatever `ok` says.
 */
export const sizedVerdict = (ok: boolean, sizes: readonly SizeNeeded[], words: readonly [string, string] = ['MET', 'NOT MET']): string => {
  if (sizes.every((s) => Number.isFinite(s.ran) && s.ran >= s.needs)) return ok ? words[0] : words[1];
  return `n/a (the target is for ${sizes.map((s) => `${n(s.needs)} ${s.what}`).join(' and ')}; this run: ${sizes.map((s) => `${n(s.ran)} ${s.what}`).join(', ')})`;
};

/** Whether `count` in `ms` is a finite rate of at least `perSecond` (a zero or negative time is no rate). */
export const rateAtLeast = (count: number, ms: number, perSecond: number): boolean => ms > 0 && Number.isFinite((count / ms) * 1000) && (count / ms) * 1000 >= perSecond;

/**
 * A size the bench takes from the environment (`BENCH_FULL_ROWS=1500`): `fallback` when unset, else a whole number
 * >= 0; anything else (empty, `abc`, `-5`, `1.5`, `Infinity`) is refused naming the variable, rather than becoming
 * NaN (`rows.slice(0, NaN)` is no rows) or a negative count.
 */
export const countFromEnv = (env: Readonly<Record<string, string | undefined>>, name: string, fallback: number): number => {
  const raw = env[name];
  if (raw === undefined) return fallback;
  const value = raw.trim() === '' ? Number.NaN : Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a whole number >= 0, got ${JSON.stringify(raw)}`);
  return value;
};

/** countFromEnv over this process's environment. */
export const benchEnv = (name: string, fallback: number): number => countFromEnv(process.env, name, fallback);
