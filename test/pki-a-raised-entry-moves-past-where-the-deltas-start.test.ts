import { describe, expect, it } from 'vitest';
import { EntryBuffer } from '../adapters/runtime/pki-entry-buffer.ts';

/*
 * A CRL entry whose reason was raised to keyCompromise must reach the next delta CRL (RFC 5280 5.2.4: a delta lists the
 * entries changed since its base), which lists the entries from where the deltas start: the entry is replaced and moved
 * to the end, the positions of the bases moved to stay on the same entries.
 */
const bytes = (...values: number[]) => Uint8Array.from(values);

describe('EntryBuffer.moveToEnd', () => {
  it('replaces the entry, moves it to the end, keeps the others in order and moves the positions after it back by one', () => {
    const buffer = new EntryBuffer();
    buffer.append(bytes(1, 1), 10, 'a');
    buffer.append(bytes(2, 2, 2), 20, 'b');
    buffer.append(bytes(3), 30, 'c', 5);
    // The base listed a, b and c (index 3); a next base a only (index 1).
    const positions = [3, 1];
    expect(buffer.moveToEnd('a', bytes(9, 9, 9, 9), positions)).toBe(true);
    expect([...buffer.from(0)]).toEqual([2, 2, 2, 3, 9, 9, 9, 9]);
    expect(buffer.serialsBefore(3)).toEqual(['b', 'c', 'a']);
    expect(positions).toEqual([2, 0]);
    // The raised entry is past both: every delta from either lists it.
    expect(buffer.offsetOf(positions[0]!)).toBe(4);
    expect(buffer.length).toBe(8);
    expect(buffer.count).toBe(3);
  });

  it('keeps the entry its expiry and its mark, and says false for a serial it does not hold', () => {
    const buffer = new EntryBuffer();
    buffer.append(bytes(1), 10, 'a', 7);
    buffer.append(bytes(2), 20, 'b');
    expect(buffer.moveToEnd('z', bytes(0))).toBe(false);
    expect(buffer.moveToEnd('a', bytes(8, 8))).toBe(true);
    // Listed beyond its expiry at 7 already: the drop takes it as before the move.
    expect(buffer.dropExpired(100, 50)).toBe(1);
    expect(buffer.serialsBefore(2)).toEqual(['b']);
  });
});
