import { describe, expect, it } from 'vitest';
import { derivedCommandId } from '../domain/event-ids.ts';
import { intervalCommandId } from '../projections/pseudonyms/rotation.ts';

/**
 * A tick's interval rotations carry the id the domain derives (a re-run tick is deduplicated against rotations stored
 * by an older build, or by any writer using domain/event-ids.ts), computed with the native digest.
 */
describe("an interval rotation's command id", () => {
  it('is derivedCommandId of the node and epoch, for many nodes, every variant, no epoch yet and non-ASCII ids', () => {
    const nodes = [...Array.from({ length: 300 }, (_, i) => `meter-${i}`), 'capteur-é-日本-🔑', 'x'.repeat(200)];
    for (const nodeId of nodes) {
      for (const epoch of [undefined, 0, 1, 41, 2 ** 31]) {
        expect(intervalCommandId(nodeId, epoch)).toBe(derivedCommandId(`pseudonym:interval:${nodeId}`, String(epoch)));
      }
    }
  });

  it('differs per node and per epoch', () => {
    expect(intervalCommandId('meter-1', 1)).not.toBe(intervalCommandId('meter-1', 2));
    expect(intervalCommandId('meter-1', 1)).not.toBe(intervalCommandId('meter-2', 1));
  });
});
