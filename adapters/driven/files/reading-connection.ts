import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { refuseWalInUnwritableFolder } from './wal-in-unwritable-folder.ts';

/**
 * The files SQLite keeps beside a database while it is open or was left open: its WAL, its WAL index, its journal. Any
 * of them makes even a read-only connection write (a -shm made or refreshed, a journal rolled back), so the readers
 * of a folder that must stay as it was look for them (here and read-only-database.ts).
 */
export const SIDE_FILES = ['-wal', '-shm', '-journal'] as const;

/**
 * A connection that reads the SQLite file at `path` (which must exist) and can write nothing to it, for a command
 * that only reads a data folder and must leave it as it found it (an auditor checks a copy, and a checksum of the
 * folder before and after).
 *
 * A read-only connection to a WAL file makes its -wal and -shm and cannot remove them at close (review: `verify
 * --data` and `key list` left them empty in a folder whose service had stopped cleanly). So when the file has none
 * of them, it is opened read-write with `query_only` (SQLite refuses every statement that would write,
 * SQLITE_READONLY), and its close, SQLite's own, removes the -wal and -shm it made only when it is the file's last
 * connection: it must take the exclusive lock on the file that every other connection's shared lock keeps from it,
 * a running service's above all, whose -wal and -shm are never removed and whose uncheckpointed writes are read as
 * any reader reads them. Their WAL was empty (there was none), so that close writes nothing to the file.
 *
 * A file that has one already is opened read-only, as before: they are another process's (a running service's), or
 * a killed one's, whose WAL a writable close would checkpoint into the file and whose journal it would roll back,
 * changing the bytes an audit judges. Where the file cannot be written here, SQLite opens it read-only as well. A WAL
 * file without its -shm in a folder this process may not write cannot be read at all, and is refused naming it
 * (wal-in-unwritable-folder.ts).
 */
export const openReadingConnection = (path: string): Database.Database => {
  refuseWalInUnwritableFolder(path);
  if (SIDE_FILES.some((suffix) => existsSync(`${path}${suffix}`))) return new Database(path, { readonly: true, fileMustExist: true });
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma('query_only = ON');
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
};
