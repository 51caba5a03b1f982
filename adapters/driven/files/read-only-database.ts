import Database from 'better-sqlite3';
import { asDamagedDatabase } from './damaged-database.ts';

/**
 * `read` run on a read-only connection of its own to the database at `path`, closed after: for a command that reads a
 * folder's records and must change none of them (a registry's own opener writes its journal mode, its schema, an
 * upgrade). A file SQLite finds corrupt, at the open or in `read`, is refused as a damaged database naming it.
 */
export const readOnlyDatabase = <T>(path: string, read: (db: Database.Database) => T): T => {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
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
