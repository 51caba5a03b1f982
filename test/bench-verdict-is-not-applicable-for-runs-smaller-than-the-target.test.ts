/**
 * Review 446: the issue-15 benches printed MET for runs that could not say so. `BENCH_FULL_ROWS=0` made
 * the raw FULL rate 0/s and the ratio Infinity ("Infinityx (target >= 5.0x: MET)"); a rotation of 300 nodes was
 * judged against the target for 100,000, a memory run over 2,000 credentials against the one for 1,000,000. A
 * verdict is now "n/a (why)" unless the run is at its target's size; a count that is no count is refused naming
 * its variable; an unknown suite name is refused.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { countFromEnv, MIN_RATE_MS, MIN_RATE_COUNT, ratioVerdict, sizedVerdict } from '../bench/verdict.ts';

const side = (count: number, ms: number) => ({ label: 'raw FULL', count, unit: 'rows', ms });

describe('a bench verdict', () => {
  it('is n/a, never MET, when one side of a ratio ran nothing (the Infinity ratio of BENCH_FULL_ROWS=0)', () => {
    const text = ratioVerdict({ label: 'engine', count: 5_000, unit: 'commands', ms: 1_000 }, side(0, 0.01), 5.0);
    expect(text).toMatch(/^n\/a \(/);
    expect(text).not.toMatch(/MET|Infinity|NaN/);
    expect(text).toContain('raw FULL');
  });

  it('is n/a when a side ran fewer rows or less time than a rate needs (a one-row baseline)', () => {
    const engine = { label: 'engine', count: 5_000, unit: 'commands', ms: 1_000 };
    expect(ratioVerdict(engine, side(1, 0.02), 1.0)).toMatch(/^n\/a \(raw FULL ran 1 rows/);
    expect(ratioVerdict(engine, side(MIN_RATE_COUNT - 1, 2_000), 1.0)).toMatch(/^n\/a/);
    expect(ratioVerdict(engine, side(50_000, MIN_RATE_MS - 1), 1.0)).toMatch(/^n\/a/);
    expect(ratioVerdict({ ...engine, count: 10 }, side(50_000, 2_000), 1.0)).toMatch(/^n\/a \(engine ran 10 commands/);
  });

  it('is MET or MISSED on the ratio when both sides ran at least the minimum', () => {
    const engine = { label: 'engine', count: 10_000, unit: 'commands', ms: 1_000 };
    expect(ratioVerdict(engine, side(MIN_RATE_COUNT, 1_000), 5.0)).toBe('10.00x (target >= 5.0x: MET)');
    expect(ratioVerdict(engine, side(20_000, 1_000), 1.0)).toBe('0.50x (target >= 1.0x: MISSED)');
    expect(ratioVerdict(engine, side(20_000, 1_000))).toBe('0.50x');
  });

  it('is n/a for a run smaller than the size its target is for, whatever the measure', () => {
    const rotation = sizedVerdict(true, [{ what: 'nodes', ran: 300, needs: 100_000 }]);
    expect(rotation).toBe('n/a (the target is for 100,000 nodes; this run: 300 nodes)');
    const memory = sizedVerdict(true, [{ what: 'credentials', ran: 2_000, needs: 1_000_000 }, { what: 'commands', ran: 10_000, needs: 10_000 }]);
    expect(memory).toBe('n/a (the target is for 1,000,000 credentials and 10,000 commands; this run: 2,000 credentials, 10,000 commands)');
    expect(sizedVerdict(true, [{ what: 'nodes', ran: 100_000, needs: 100_000 }])).toBe('MET');
    expect(sizedVerdict(false, [{ what: 'nodes', ran: 100_000, needs: 100_000 }])).toBe('NOT MET');
    expect(sizedVerdict(false, [{ what: 'nodes', ran: 100_000, needs: 100_000 }], ['MET', 'MISSED'])).toBe('MISSED');
  });
});

describe('a bench size from the environment', () => {
  it('is the default when unset and the number when set', () => {
    expect(countFromEnv({}, 'BENCH_FULL_ROWS', 1_500)).toBe(1_500);
    expect(countFromEnv({ BENCH_FULL_ROWS: '0' }, 'BENCH_FULL_ROWS', 1_500)).toBe(0);
    expect(countFromEnv({ BENCH_FULL_ROWS: '2000' }, 'BENCH_FULL_ROWS', 1_500)).toBe(2_000);
  });

  it.each(['abc', '', ' ', '-5', '1.5', 'Infinity', 'NaN'])('refuses %j, naming the variable', (value) => {
    expect(() => countFromEnv({ BENCH_FULL_ROWS: value }, 'BENCH_FULL_ROWS', 1_500)).toThrow(/BENCH_FULL_ROWS/);
  });
});

describe('npm run bench', () => {
  it('refuses an unknown suite name in BENCH_ONLY, listing the known ones, with exit 1', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts'], { env: { ...process.env, BENCH_ONLY: 'comands' }, encoding: 'utf8', timeout: 60_000 });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('comands');
    expect(run.stderr).toContain('commands');
    expect(run.stdout).not.toContain('peak RSS');
  });
});
