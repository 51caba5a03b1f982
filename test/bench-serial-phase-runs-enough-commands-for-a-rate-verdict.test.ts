/**
 * `npm run bench` printed "one command at a time, durable: n/a (the engine (one at a time) ran 930 commands in
 * 0.70s ...)" on every run: the serial phase ran a fixed 150 lifecycles (930 commands), short of the 1,000 commands
 * and 0.5 s a rate needs (bench/verdict.ts), so the "engine one command at a time" comparison was never given.
 * The phase now runs whole lifecycles until both minimums are met, bounded by a most.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { serialPhase } from '../bench/commands.ts';
import { MIN_RATE_COUNT, MIN_RATE_MS, ratioVerdict } from '../bench/verdict.ts';

const dirs: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-serial-phase-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

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
});
