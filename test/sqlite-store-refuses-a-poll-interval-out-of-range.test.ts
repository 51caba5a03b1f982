import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../adapters/driven/store/index.ts';

/**
 * A subscription waits `pollIntervalMs` for appends made through another connection (subscription.ts). setTimeout
 * fires after 1 ms for a delay that is not a number, below 1 or past 2^31 - 1 ms: such a setting would poll the store
 * without pause, so it is refused when the store opens, naming the option (as the checkpointer's intervalMs is).
 */
describe('the embedded store poll interval', () => {
  it.each([Number.NaN, -1, 0, 2 ** 31, Number.POSITIVE_INFINITY, '200' as unknown as number])('refuses %s, naming the option', (pollIntervalMs) => {
    expect(() => openSqliteStore({ memory: true, pollIntervalMs })).toThrow('options.pollIntervalMs: must be a number of ms from 1 to 2147483647');
  });

  it('accepts the bounds', async () => {
    for (const pollIntervalMs of [1, 2 ** 31 - 1]) await openSqliteStore({ memory: true, pollIntervalMs }).close();
  });
});
