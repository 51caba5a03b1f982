/**
 * Review 119: `pseudonyms.*.everyMs` took any positive integer. `{"default":{"everyMs":1}}` rotated every node at
 * every tick, each rotation a permanent event. An interval is now a minute to ten years, in the service's setting
 * (refused naming the source, the field and the rule) and in the library's policy alike.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadServiceConfig, serviceConfig } from '../adapters/http/config.ts';
import type { FieldIssue } from '../domain/errors.ts';
import { RotationPolicy } from '../projections/pseudonyms/index.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-rotation-bounds-');
const MINUTE = 60_000;
const TEN_YEARS = 10 * 365 * 24 * 3_600_000;

const refusal = (run: () => unknown): readonly FieldIssue[] => {
  try {
    run();
  } catch (error) {
    return (error as { problem: { issues: FieldIssue[] } }).problem.issues;
  }
  return [];
};

describe('a pseudonym rotation interval', () => {
  it('shorter than a minute is refused in the config file, naming the file, the field and the rule', () => {
    const file = join(scratch(), 'credence.json');
    writeFileSync(file, JSON.stringify({ pseudonyms: { default: { everyMs: 1 }, classes: { gateway: { everyMs: MINUTE - 1 } } } }));
    const issues = refusal(() => loadServiceConfig({ file }));
    expect(issues.map(({ path, rule }) => ({ path, rule }))).toEqual([
      { path: `file ${file}: pseudonyms.default.everyMs`, rule: 'too_small' },
      { path: `file ${file}: pseudonyms.classes.gateway.everyMs`, rule: 'too_small' },
    ]);
    expect(issues[0]!.message).toContain('at least 60000 ms');
  });

  it('longer than ten years is refused the same way', () => {
    const issues = refusal(() => serviceConfig({ pseudonyms: { classes: { meter: { everyMs: TEN_YEARS + 1 } } } }));
    expect(issues).toEqual([{ path: 'pseudonyms.classes.meter.everyMs', rule: 'too_big', message: expect.stringContaining(`at most ${TEN_YEARS} ms`) }]);
  });

  it('of exactly a minute or ten years is taken, and null still turns the interval off', () => {
    expect(serviceConfig({ pseudonyms: { default: { everyMs: MINUTE }, classes: { gateway: { everyMs: TEN_YEARS }, meter: { everyMs: null } } } }).pseudonyms).toEqual({
      default: { everyMs: MINUTE, onAssociation: false },
      classes: { gateway: { everyMs: TEN_YEARS, onAssociation: false }, meter: { onAssociation: false } },
    });
  });

  it("is bounded alike in the library's policy, so the two cannot disagree", () => {
    expect(RotationPolicy.safeParse({ default: { everyMs: 1 } }).success).toBe(false);
    expect(RotationPolicy.safeParse({ classes: { gateway: { everyMs: TEN_YEARS + 1 } } }).success).toBe(false);
    expect(RotationPolicy.parse({ default: { everyMs: MINUTE } }).default.everyMs).toBe(MINUTE);
  });
});
