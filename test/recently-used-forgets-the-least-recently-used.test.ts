import { describe, expect, it } from 'vitest';
import { RecentlyUsed } from '../adapters/http/auth/recently-used.ts';

describe('RecentlyUsed (the bounded map of the token checks)', () => {
  it('forgets the least recently used entry past its capacity: a get or a set is a use', () => {
    const map = new RecentlyUsed<string, number>(2);
    map.set('a', 1);
    map.set('b', 2);
    expect(map.get('a')).toBe(1);
    map.set('c', 3);
    expect([map.has('a'), map.has('b'), map.has('c')]).toEqual([true, false, true]);
    map.set('a', 4);
    map.set('d', 5);
    expect([map.get('a'), map.has('c'), map.get('d')]).toEqual([4, false, 5]);
    map.delete('a');
    expect(map.has('a')).toBe(false);
  });

  it('refuses a capacity that is no positive whole number', () => {
    for (const capacity of [0, -1, 1.5, Number.NaN]) expect(() => new RecentlyUsed(capacity)).toThrow(/capacity/);
  });
});
