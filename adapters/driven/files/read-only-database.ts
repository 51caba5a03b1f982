import Database from 'better-sqlite3';
import { basename } from 'node:path';
import { damagedDatabase } from '../../../domain/errors.ts';
import { asDamagedDatabase } from './damaged-database.ts';
import { openReadingConnection } from './reading-connection.ts';

/**
 * One reading connection's `read` (reading-connection.ts: it writes nothing, and leaves no -wal or -shm of its own),
 * opened and closed around it; a corrupt file refused as damaged.
 */
const readOnce = <T>(path: string, read: (db: Database.Database) => T): T => {
  let db: Database.Database;
  try {
    db = openReadingConnection(path);
  } catch (error) {
    throw asDamagedDatabase(path, error);
  }
  try {
    return read(db);
  } catch (error) {
    throw asDamagedDatabase(path, error);
  } finally {
    db.close();
  }
};

const isHotJournal = (error: unknown): boolean => (error as { code?: unknown } | undefined)?.code === 'SQLITE_READONLY_ROLLBACK';

/**
 * Rolls back the transaction a kill interrupted in the database at `path`: any writable open does, to what was last
 * committed, which is all any opener would find; nothing else is written. One that cannot (the file or its folder
 * not writable here) is refused as damaged, naming the file and what mends it.
 */
const rollBackHotJournal = (path: string): void => {
  try {
    const db = new Database(path, { fileMustExist: true });
    try {
      db.prepare(`SELECT count(*) FROM sqlite_master`).get();
    } finally {
      db.close();
    }
  } catch (error) {
    const damaged = asDamagedDatabase(path, error);
    if (damaged !== error) throw damaged;
    const code = (error as { code?: unknown }).code;
    throw damagedDatabase(
      path,
      basename(path),
      `a transaction a kill interrupted is still to be rolled back (its -journal), which this process cannot do${typeof code === 'string' ? ` (${code})` : ''}`,
      'the first opening that may write the file rolls it back: start the service once, or run this again, as the account that owns the data folder',
    );
  }
};

/**
 * `read` run on a read-only connection of its own to the database at `path`, closed after: for a command that reads a
 * folder's records and must change none of them (a registry's own opener writes its journal mode, its schema, an
 * upgrade). A file SQLite finds corrupt, at the open or in `read`, is refused as a damaged database naming it.
 * A file with a hot rollback journal (a zero-length file an earlier version left, killed in its first schema
 * transaction: private-sqlite.ts makes the schema before WAL) cannot be read read-only (SQLITE_READONLY_ROLLBACK,
 * met at the first statement, before `read` has seen a row): it is rolled back first (rollBackHotJournal) and read
 * again, as the registry's opener would find it; `key list` and `key destroy` failed with SQLite's bare error.
 */
export const readOnlyDatabase = <T>(path: string, read: (db: Database.Database) => T): T => {
  try {
    return readOnce(path, read);
  } catch (error) {
    if (!isHotJournal(error)) throw error;
  }
  rollBackHotJournal(path);
  return readOnce(path, read);
};
