// A refusal the console reads (an RFC 9457 problem) with a long detail or many field issues is cut, not refused:
// the page still names the fields instead of falling back to the bare status line.
import { describe, expect, it } from 'vitest';
import { Problem } from '../adapters/console/src/schemas.ts';

describe('a problem answer in the console', () => {
  it('keeps its fields when the detail and messages are longer than the console shows, cutting them', () => {
    const long = 'x'.repeat(10_000);
    const parsed = Problem.parse({ status: 400, title: 'Bad Request', detail: long, errors: [{ path: 'data.nodeId', rule: 'too_big', message: long }] });
    expect(parsed.detail).toHaveLength(4097);
    expect(parsed.detail!.endsWith('…')).toBe(true);
    expect(parsed.errors).toEqual([{ path: 'data.nodeId', rule: 'too_big', message: `${'x'.repeat(4096)}…` }]);
  });

  it('keeps the first 1,000 field issues of a refusal naming more', () => {
    const errors = Array.from({ length: 1_500 }, (_, i) => ({ path: `items.${i}`, message: 'is required' }));
    const parsed = Problem.parse({ status: 400, errors });
    expect(parsed.errors).toHaveLength(1_000);
    expect(parsed.errors![999]!.path).toBe('items.999');
  });

  it('still refuses what is not a problem at all', () => {
    expect(Problem.safeParse({ status: 'teapot' }).success).toBe(false);
    expect(Problem.safeParse({ errors: [{ path: 1 }] }).success).toBe(false);
  });
});
