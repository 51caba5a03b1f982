import Database from 'better-sqlite3';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { damagedDatabase } from '../../../domain/errors.ts';
import { asDamagedDatabase, isSqliteCorruption, remedyFor } from './damaged-database.ts';
import { openReadingConnection, SIDE_FILES } from './reading-connection.ts';

type Damaged = (error: unknown) => unknown;

/**
 * One reading connection's `read` (reading-connection.ts: it writes nothing, and leaves no -wal or -shm of its own),
 * opened and closed around it; a corrupt file refused as damaged (`damaged`).
 */
const readOnce = <T>(path: string, read: (db: Database.Database) => T, damaged: Damaged = (error) => asDamagedDatabase(path, error)): T => {
  let db: Database.Database;
  try {
    db = openReadingConnection(path);
  } catch (error) {
    throw damaged(error);
  }
  try {
    return read(db);
  } catch (error) {
    throw damaged(error);
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

/** Where a file never to be written is read when SQLite left files beside it: a private folder of the system's. */
const PRIVATE_COPY = 'credence-rolled-back-copy-';

/**
 * `read` as readOnlyDatabase runs it, but the file at `path` and the files beside it are never written, not even to
 * roll back a hot journal: for a folder that is evidence, the one moved aside before a whole-folder restore above all
 * (README "Restoring a whole data folder", step 4), whose key database's inode change time tells it from the restored
 * one, and which a rollback moved (review 174: refused `later_than_backup` on every retry, after a crash).
 *
 * A file with none beside it is read on a connection that writes nothing (reading-connection.ts). One with a -journal,
 * -wal or -shm is read in a private copy instead, never opened where it is: a read-only connection writes the -shm,
 * and run as root SQLite gives a journal it opens its database's owner again (fchown), which moves its inode change
 * time. The file and those beside it are copied into a new folder of the system's temporary folder (0700, each file
 * 0600: they may hold sealed keys), opened there for writing, which rolls a hot journal back (or checkpoints a WAL) to
 * what any opener would find, read, and removed whatever happens. A multi-file transaction's journal names its
 * super-journal by its path: SQLite reads it there, and deletes it only once no journal it names is left, which those
 * beside `path` still are. A corrupt file, or copy, is refused as damaged naming `path`, with `remedy` (by default that
 * of the file in a live data folder, damaged-database.ts).
 */
export const readOnlyDatabaseWritingNothing = <T>(path: string, read: (db: Database.Database) => T, remedy = remedyFor(basename(path))): T => {
  const damaged: Damaged = (error) => (isSqliteCorruption(error) ? damagedDatabase(path, basename(path), `${error.code}: ${error.message}`, remedy) : error);
  const beside = SIDE_FILES.filter((suffix) => existsSync(`${path}${suffix}`));
  if (beside.length === 0) return readOnce(path, read, damaged);
  const dir = mkdtempSync(join(tmpdir(), PRIVATE_COPY));
  try {
    const copy = join(dir, basename(path));
    for (const suffix of ['', ...beside]) {
      copyFileSync(`${path}${suffix}`, `${copy}${suffix}`);
      chmodSync(`${copy}${suffix}`, 0o600);
    }
    let db: Database.Database;
    try {
      db = new Database(copy, { fileMustExist: true });
    } catch (error) {
      throw damaged(error);
    }
    try {
      // The first statement of a writable connection rolls the copy back; `read` then writes nothing, as everywhere.
      db.prepare(`SELECT count(*) FROM sqlite_master`).get();
      db.pragma('query_only = ON');
      return read(db);
    } catch (error) {
      throw damaged(error);
    } finally {
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};
