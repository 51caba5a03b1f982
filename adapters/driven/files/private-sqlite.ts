import Database from 'better-sqlite3';
import { join } from 'node:path';
import { asDamagedDatabase, rememberDatabaseFile } from './damaged-database.ts';
import { preparePrivateDatabaseFile, preparePrivateDir } from './private-files.ts';

/** Where a private database lives: `<dir>/<file>`, or in memory (tests, in-memory instances). */
export type PrivateSqliteLocation = { readonly dir: string } | { readonly memory: true };

export interface PrivateSqliteOptions {
  /** The database's file name inside the data folder (`keys.db`, `access.db`, ...). */
  readonly file: string;
  /**
   * `FULL`: a commit is on disk before it returns, for state no event can bring back (key bindings, tokens);
   * `NORMAL`: a power loss may take the last commits but never corrupts, for what is rebuilt from the events.
   */
  readonly synchronous: 'FULL' | 'NORMAL';
  /**
   * The schema the file holds, created when missing; `user_version` says which version wrote it, and a file a newer
   * version wrote is refused (`what` names the database in that error).
   */
  readonly schema?: {
    readonly what: string;
    readonly version: number;
    readonly sql: string;
    /** Brings a file an earlier version wrote (`found`, 1 or more) to `version`, in the same transaction, before `sql`. */
    readonly upgrade?: (db: Database.Database, found: number) => void;
  };
}

/** How long a statement waits for another connection's lock (the CLI beside a running service) before SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5_000;

/**
 * Opens one of the data folder's SQLite databases: the folder checked private (0700), the file created 0600 before
 * SQLite opens it (its -wal/-shm follow), WAL with the `synchronous` level asked for, a busy timeout, and the schema
 * created or its version checked in one immediate transaction. Whatever fails after the open closes the database; a
 * file SQLite finds damaged is a `damaged_database` error naming it and what mends it.
 */
export const openPrivateSqlite = (location: PrivateSqliteLocation, options: PrivateSqliteOptions): Database.Database => {
  let db: Database.Database;
  let path: string | undefined;
  if ('memory' in location) {
    db = new Database(':memory:');
  } else {
    preparePrivateDir(location.dir);
    path = join(location.dir, options.file);
    preparePrivateDatabaseFile(path);
    try {
      db = new Database(path);
    } catch (error) {
      throw asDamagedDatabase(path, error);
    }
  }
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    if (!('memory' in location)) {
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${options.synchronous}`);
    }
    const { schema } = options;
    if (schema !== undefined) {
      db.transaction(() => {
        const found = Number(db.pragma('user_version', { simple: true }));
        if (found > schema.version) throw new Error(`${schema.what} file has schema version ${found}, newer than ${schema.version}`);
        if (found > 0 && found < schema.version) schema.upgrade?.(db, found);
        db.exec(schema.sql);
        if (found < schema.version) db.pragma(`user_version = ${schema.version}`);
      }).immediate();
    }
    if (path !== undefined) rememberDatabaseFile(path);
    return db;
  } catch (error) {
    db.close();
    throw path === undefined ? error : asDamagedDatabase(path, error);
  }
};
