import { describe, expect, it } from 'vitest';
import { boundCrlExpiryMarks, MAX_CRL_EXPIRY_MARKS } from '../adapters/driven/pki/crl-expiry-marks.ts';

describe('the CRL expiry marks stay bounded', () => {
  it('keeps every mark up to the limit', () => {
    const marks = new Map([['0a', 3], ['0b', 1], ['0c', 2]]);
    expect(boundCrlExpiryMarks(marks, 3)).toBe(0);
    expect([...marks.keys()]).toEqual(['0a', '0b', '0c']);
  });

  it('past the limit drops the oldest marks (earliest CRL) down to nine tenths of it, keeping the newest', () => {
    const marks = new Map<string, number>();
    // Inserted out of time order: the bound goes by the CRL time, not by insertion.
    for (let i = 0; i < 21; i++) marks.set((i + 1).toString(16).padStart(2, '0'), (i * 8) % 21); // 0..20 in a shuffled order
    expect(boundCrlExpiryMarks(marks, 20)).toBe(3);
    expect(marks.size).toBe(18);
    expect(Math.min(...marks.values())).toBe(3);
    expect([...marks.values()].sort((a, b) => a - b)).toEqual(Array.from({ length: 18 }, (_, i) => i + 3));
  });

  it('the default limit is the one the marks file accepts', () => {
    expect(MAX_CRL_EXPIRY_MARKS).toBe(2_000_000);
  });
});
