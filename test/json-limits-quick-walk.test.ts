import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonLimitIssue, type JsonLimits } from '../domain/json-limits.ts';

/**
 * jsonLimitIssue walks input that keeps the limits once, without allocating (stored events at replay, issue 15),
 * and names the failing path only when a limit breaks. Its verdict must be the limits' definition: the deepest
 * container's depth (the top level is 1) against maxDepth, and the number of values against maxValues.
 */
const measure = (value: unknown, depth = 1): { depth: number; values: number } => {
  if (typeof value !== 'object' || value === null) return { depth: 0, values: 1 };
  const children = Array.isArray(value) ? value : Object.values(value);
  let deepest = depth;
  let values = 1;
  for (const child of children) {
    const m = measure(child, depth + 1);
    deepest = Math.max(deepest, m.depth);
    values += m.values;
  }
  return { depth: deepest, values };
};

describe('JSON limits: the quick walk', () => {
  it('refuses exactly the values that break a limit, and names a rule', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 40 }), (value, maxDepth, maxValues) => {
        const limits: JsonLimits = { maxDepth, maxValues };
        const { depth, values } = measure(value);
        const breaks = typeof value === 'object' && value !== null && (depth > maxDepth || values > maxValues);
        const issue = jsonLimitIssue(value, limits);
        expect(issue !== undefined).toBe(breaks);
        if (issue !== undefined) expect(['max_depth', 'max_values']).toContain(issue.rule);
      }),
      { numRuns: 2_000 },
    );
  });

  it('refuses input nested far deeper than the stack allows, with the path of the first level too deep', () => {
    let value: unknown = 1;
    for (let i = 0; i < 200_000; i++) value = [value];
    expect(jsonLimitIssue(value, { maxDepth: 3, maxValues: 1_000_000 })).toEqual({ path: '0.0.0', rule: 'max_depth', message: 'nested deeper than 3 levels' });
  });
});
