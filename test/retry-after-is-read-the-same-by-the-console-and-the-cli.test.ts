/**
 * The web console and the CLI's client read a Retry-After header one way (domain/retry-after.ts): the console took
 * `1.5`, `-5` and any date `Date.parse` reads, and nine digits, where the CLI took IMF-fixdate only and ten.
 */
import { describe, expect, it } from 'vitest';
import { retryAfterMsOf } from '../adapters/client/http.ts';
import { retryAfterMs as consoleRetryAfterMs } from '../adapters/console/src/retry-after.ts';
import { retryAfterMs } from '../domain/retry-after.ts';

const NOW = Date.parse('2026-12-06T10:00:00Z');

const cases: ReadonlyArray<readonly [string, number | undefined]> = [
  ['30', 30_000],
  [' 30 ', 30_000],
  ['0', 0],
  ['9999999999', 9_999_999_999_000],
  ['99999999999', Number.POSITIVE_INFINITY],
  ['Sun, 06 Dec 2026 10:01:00 GMT', 60_000],
  ['Sun, 06 Dec 2026 09:00:00 GMT', 0],
  ['1.5', undefined],
  ['-5', undefined],
  ['2026-12-06T10:01:00Z', undefined],
  ['Sunday, 06-Dec-26 10:01:00 GMT', undefined],
  ['soon', undefined],
  ['', undefined],
];

describe('a Retry-After header', () => {
  it.each(cases)('%j is read as %s ms', (value, ms) => {
    expect(retryAfterMs(value, NOW)).toBe(ms);
    expect(retryAfterMsOf(new Headers({ 'retry-after': value }), NOW)).toBe(ms);
  });

  it('is read by the console by the same rules, against its clock', () => {
    for (const [value, ms] of cases) {
      if (value.includes('GMT')) continue;
      expect(consoleRetryAfterMs(value)).toBe(ms);
    }
    expect(consoleRetryAfterMs(null)).toBeUndefined();
    expect(retryAfterMsOf(new Headers(), NOW)).toBeUndefined();
  });
});
