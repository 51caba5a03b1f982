/**
 * `npm run bench` printed "one command at a time, durable: n/a (the engine (one at a time) ran 930 commands in
 * 0.70s ...)" on every run: the serial phase ran a fixed 150 lifecycles (930 commands), short of the 1,000 commands
 * and 0.5 s a rate needs (bench/verdict.ts), so the "engine one command at a time" comparison was never given.
 * The phase now runs whole lifecycles until both minimums are met, bounded by a most.
 *
 * Review 459 (L1): a most below the least (`serialPhase(dir, 3, 2)`, `BENCH_SERIAL_MAX_NODES=0`) was silently raised
 * to the least, and no test noticed if the `i >= leastNodes` guard went: such a most is now refused, naming both
 * variables, and the least is held with minimums small enough to be met at once (cheap: a few lifecycles each).
 */
import { describe, expect, it } from 'vitest';
import { serialNodesFromEnv, serialPhase } from '../bench/commands.ts';
import { MIN_RATE_COUNT, MIN_RATE_MS, ratioVerdict } from '../bench/verdict.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const tempDir = temporaryFolders('credence-serial-phase-');

describe('the commands bench serial phase', () => {
  it('runs, at its default size, enough commands for long enough that its rate gets a verdict', async () => {
    const phase = await serialPhase(tempDir(), 150);
    expect(phase.commands).toBeGreaterThanOrEqual(MIN_RATE_COUNT);
    expect(phase.ms).toBeGreaterThanOrEqual(MIN_RATE_MS);
    expect(phase.conflicts).toBe(0);
    const side = { label: 'serial', count: phase.commands, unit: 'commands', ms: phase.ms };
    expect(ratioVerdict(side, { label: 'raw', count: 2_000, unit: 'rows', ms: 1_000 })).toMatch(/^\d+\.\d\dx$/);
  });

  it('stops at its most lifecycles, whole ones, even short of a verdict', async () => {
    // Five lifecycles: six commands each, and two more for the one revoked (node 0).
    const phase = await serialPhase(tempDir(), 5, 5);
    expect(phase.commands).toBe(5 * 6 + 2);
  });

  // Lifecycle 0 (revoked) is 8 commands, every other of 1 to 9 six.
  it('runs at least its least lifecycles even when the minimums a verdict needs are met before them', async () => {
    const phase = await serialPhase(tempDir(), 3, 5, { count: 0, ms: 0 });
    expect(phase.commands).toBe(8 + 6 + 6);
  });

  it('runs whole lifecycles past its least until the commands a verdict needs are run, then stops', async () => {
    expect((await serialPhase(tempDir(), 2, 5, { count: 14, ms: 0 })).commands).toBe(8 + 6);
    expect((await serialPhase(tempDir(), 2, 5, { count: 15, ms: 0 })).commands).toBe(8 + 6 + 6);
  });

  it('runs to its most while the time a verdict needs is not reached', async () => {
    expect((await serialPhase(tempDir(), 1, 3, { count: 0, ms: 60_000 })).commands).toBe(8 + 6 + 6);
  });

  it('refuses a most below its least rather than running the least', async () => {
    await expect(serialPhase(tempDir(), 3, 2)).rejects.toThrow(/most 2 .*least 3/);
  });
});

describe('the commands bench serial sizes from the environment', () => {
  it('reads the least and the most, the most by default 2,000 or the least when larger', () => {
    expect(serialNodesFromEnv({})).toEqual({ least: 150, most: 2_000 });
    expect(serialNodesFromEnv({ BENCH_SERIAL_NODES: '40', BENCH_SERIAL_MAX_NODES: '40' })).toEqual({ least: 40, most: 40 });
    expect(serialNodesFromEnv({ BENCH_SERIAL_NODES: '3000' })).toEqual({ least: 3_000, most: 3_000 });
    expect(serialNodesFromEnv({ BENCH_SERIAL_NODES: '0', BENCH_SERIAL_MAX_NODES: '0' })).toEqual({ least: 0, most: 0 });
  });

  it('refuses a BENCH_SERIAL_MAX_NODES set below BENCH_SERIAL_NODES, naming both', () => {
    for (const [least, most] of [[undefined, '0'], [undefined, '149'], ['3', '2'], ['3000', '2000']] as const) {
      const env = { ...(least === undefined ? {} : { BENCH_SERIAL_NODES: least }), BENCH_SERIAL_MAX_NODES: most };
      expect(() => serialNodesFromEnv(env)).toThrow(new RegExp(`BENCH_SERIAL_MAX_NODES \\(${most}\\).*BENCH_SERIAL_NODES \\(${least ?? 150}\\)`));
    }
  });

  it('still refuses a size that is no whole number, naming it', () => {
    expect(() => serialNodesFromEnv({ BENCH_SERIAL_MAX_NODES: '-1' })).toThrow(/BENCH_SERIAL_MAX_NODES must be a whole number/);
    expect(() => serialNodesFromEnv({ BENCH_SERIAL_NODES: 'abc' })).toThrow(/BENCH_SERIAL_NODES must be a whole number/);
  });
});
