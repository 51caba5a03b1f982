import { openSqliteStoreInDir, type SqliteEventStore } from '../../adapters/driven/store/index.ts';
import { isCredenceError } from '../../domain/errors.ts';
import type { EventStore } from '../../domain/ports/index.ts';

/**
 * An embedded file store for tests that prove logic, not durability: `durability: 'normal'` (no sync per commit),
 * so the suite does not wait on the disk. Crash and durability tests open the default (`full`) store instead.
 */
export const logicStoreInDir = (dir: string): SqliteEventStore => openSqliteStoreInDir(dir, { durability: 'normal' });

/** The store, with a count of the concurrency conflicts its appends raised (what callers would have retried). */
export const countingConflicts = (store: EventStore): { store: EventStore; conflicts: () => number } => {
  let conflicts = 0;
  const counted = Object.create(store) as EventStore;
  counted.appendToStream = async (...args) => {
    try {
      return await store.appendToStream(...args);
    } catch (error) {
      if (isCredenceError(error, 'concurrency_conflict')) conflicts += 1;
      throw error;
    }
  };
  return { store: counted, conflicts: () => conflicts };
};
