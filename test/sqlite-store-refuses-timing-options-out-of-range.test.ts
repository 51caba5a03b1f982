import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../adapters/driven/store/index.ts';

/**
 * A subscription waits `pollIntervalMs` for appends made through another connection (subscription.ts). setTimeout
 * fires after 1 ms for a delay that is not a number, below 1 or past 2^31 - 1 ms: such a setting would poll the store
 * without pause, so it is refused when the store opens, naming the option (as the checkpointer's intervalMs is).
 * `busyTimeoutMs` goes into a PRAGMA, where NaN or a fraction would not be what was asked for.
 */
describe('the embedded store poll interval', () => {
  it.each([Number.NaN, -1, 0, 2 ** 31, Number.POSITIVE_INFINITY, '200' as unknown as number])('refuses %s, naming the option', (pollIntervalMs) => {
    expect(() => openSqliteStore({ memory: true, pollIntervalMs })).toThrow('options.pollIntervalMs: must be a number of ms from 1 to 2147483647');
  });

  it('accepts the bounds', async () => {
    for (const pollIntervalMs of [1, 2 ** 31 - 1]) await openSqliteStore({ memory: true, pollIntervalMs }).close();
  });
});

describe('the embedded store busy timeout', () => {
  it.each([Number.NaN, -1, 0.5, 2 ** 31, Number.POSITIVE_INFINITY, '50' as unknown as number])('refuses %s, naming the option', (busyTimeoutMs) => {
    expect(() => openSqliteStore({ memory: true, busyTimeoutMs })).toThrow('options.busyTimeoutMs: must be a whole number of ms from 0 to 2147483647');
  });

  it('accepts the bounds, and SQLite waits what was asked for', async () => {
    for (const busyTimeoutMs of [0, 2 ** 31 - 1]) await openSqliteStore({ memory: true, busyTimeoutMs }).close();
    const store = openSqliteStore({ memory: true, busyTimeoutMs: 1234 });
    // The connection is private to the store: read the setting back through the database it opened.
    const db = (store as unknown as { db: import('better-sqlite3').Database }).db;
    expect(Number(db.pragma('busy_timeout', { simple: true }))).toBe(1234);
    await store.close();
  });
});
