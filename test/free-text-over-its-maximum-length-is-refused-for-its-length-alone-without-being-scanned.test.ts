/**
 * Review 353: a refused 1 MB body cost about ten times more once the rules of new facts named every field (review 348:
 * a body failing the schema as sent is parsed again with every rule): zod runs a string's refinements after its
 * max() has failed, and the printable rule walked the whole megabyte, character by character, through several regular
 * expressions (48 ms in process, 56 to 79 ms a request over HTTP). Text over its field's maximum is already refused for
 * that; the printable rule returns at once, so the refusal names the length alone. No timing is asserted (machines are
 * noisy): a bell in such text shows whether the text was scanned.
 */
import { describe, expect, it } from 'vitest';
import { CommandSchema, parseSentCommand } from '../domain/commands/index.ts';
import { ResolutionReason } from '../domain/commands/resolution-reason.ts';
import { isCredenceError } from '../domain/errors.ts';
import { operator } from './support/fleet.ts';

const MEGABYTE = 'A'.repeat(1_000_000);
const registration = (manufacturer: string) => ({
  type: 'registerNode',
  data: { nodeId: 'n9', profile: { class: 'smart-meter', manufacturer, capabilities: ['metering'] } },
  metadata: { commandId: '0190a4a0-0000-7000-8000-000000000001', actor: operator },
});
const pathsAndRules = (issues: readonly { path: string; rule: string }[]) => issues.map(({ path, rule }) => ({ path, rule }));

describe('free text over its maximum length', () => {
  it('a 1 MB manufacturer holding a bell is refused for its length alone, its model named too', () => {
    let refusal: unknown;
    try {
      parseSentCommand(registration(`\u0007${MEGABYTE}`));
    } catch (error) {
      refusal = error;
    }
    expect(isCredenceError(refusal, 'validation')).toBe(true);
    if (!isCredenceError(refusal) || refusal.problem.code !== 'validation') return;
    expect(pathsAndRules(refusal.problem.issues)).toEqual(
      expect.arrayContaining([
        { path: 'data.profile.manufacturer', rule: 'too_big' },
        { path: 'data.profile.model', rule: 'invalid_type' },
      ]),
    );
    expect(refusal.problem.issues).toHaveLength(2);
  });

  it('the command schema names only too_big for the manufacturer, the printable check not run', () => {
    const parsed = CommandSchema.safeParse(registration(`\u0007${MEGABYTE}`));
    expect(parsed.success).toBe(false);
    const manufacturer = parsed.error!.issues.filter((issue) => issue.path.join('.') === 'data.profile.manufacturer');
    expect(manufacturer.map((issue) => issue.code)).toEqual(['too_big']);
  });

  it('text at its maximum length is still judged printable, with the same words', () => {
    const atMax = `\u0007${'A'.repeat(127)}`;
    const parsed = CommandSchema.safeParse(registration(atMax));
    expect(parsed.success).toBe(false);
    const manufacturer = parsed.error!.issues.filter((issue) => issue.path.join('.') === 'data.profile.manufacturer');
    expect(manufacturer).toEqual([
      expect.objectContaining({ code: 'custom', params: { rule: 'printable' }, message: 'holds U+0007 at index 0, a control, format or other invisible character: write it as visible text on one line' }),
    ]);
  });

  it("a resolution's reason over its maximum is refused for its length alone", () => {
    const parsed = ResolutionReason.safeParse(`\u0007${'x'.repeat(600)}`);
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues.map((issue) => issue.code)).toEqual(['too_big']);
  });
});
