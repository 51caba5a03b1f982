import { closeSync, openSync, writeSync } from 'node:fs';
import Database from 'better-sqlite3';

/**
 * Overwrites the root page of `table` in the SQLite file with garbage, as a torn write or a failing disk leaves it, then
 * commits elsewhere in the file, so that a connection a running service holds reads its pages again.
 */
export const tearTablePage = (file: string, table: string): void => {
  let db = new Database(file);
  db.pragma('wal_checkpoint(TRUNCATE)');
  const page = Number(db.prepare("SELECT rootpage FROM sqlite_master WHERE name = ?").pluck().get(table));
  const size = Number(db.pragma('page_size', { simple: true }));
  db.close();
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(size, 0xa5), 0, size, (page - 1) * size);
  closeSync(fd);
  db = new Database(file);
  db.exec('CREATE TABLE torn (x); DROP TABLE torn;');
  db.close();
};
