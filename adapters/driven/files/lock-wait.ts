import Database from 'better-sqlite3';

/**
 * Makes each connection wait at most `ms` for another connection's write lock, and returns what puts back the waits
 * they had. better-sqlite3 waits for a lock on the thread that runs the statement: in a service, a long wait holds
 * the event loop and every request with it (review 110), where a writer that can try again later is better refused.
 */
export const waitForOtherWritersAtMost = (connections: readonly Database.Database[], ms: number): (() => void) => {
  const before = connections.map((db) => ({ db, ms: Number(db.pragma('busy_timeout', { simple: true })) }));
  for (const db of connections) db.pragma(`busy_timeout = ${Math.trunc(ms)}`);
  return () => {
    for (const { db, ms: was } of before) if (db.open) db.pragma(`busy_timeout = ${was}`);
  };
};

/** SQLITE_BUSY past `busy_timeout`: another connection (another process) holds the write lock. Nothing was written. */
export const isWriteLockHeld = (error: unknown): boolean => error instanceof Database.SqliteError && error.code.startsWith('SQLITE_BUSY');
