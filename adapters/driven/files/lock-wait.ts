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

/**
 * A write that another process's write lock refused (SQLITE_BUSY past the connection's wait), naming the file: SQLite's
 * "database is locked" names none. No fault of the service (a CLI's export, an operator's sqlite3): the service logs
 * it at warn without a stack (adapters/http/log-failure.ts) and answers a request it fails 503 with Retry-After.
 */
export class LockHeldElsewhere extends Error {
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    super(`${file} is locked by another process's write transaction (SQLITE_BUSY)`, { cause });
    this.name = 'LockHeldElsewhere';
  }
}

/** Runs a write of `file`, its lock held elsewhere said as a `LockHeldElsewhere` naming the file. */
export const writingTo = <T>(file: string, work: () => T): T => {
  try {
    return work();
  } catch (error) {
    throw isWriteLockHeld(error) ? new LockHeldElsewhere(file, error) : error;
  }
};
