import Database from 'better-sqlite3';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A database `file` whose rows are only in its -wal, made in the scratch folder `origin`, that -wal then copied alone
 * into `into`: what a restore that moved the file aside but not its log leaves (an opener must refuse it, never let
 * SQLite delete it or play it over a new file).
 */
export const leaveWalAlone = (file: string, into: string, origin: string, table = 'remembered'): void => {
  const db = new Database(join(origin, file));
  db.pragma('journal_mode = WAL');
  db.pragma('wal_autocheckpoint = 0');
  db.exec(`CREATE TABLE ${table} (key TEXT PRIMARY KEY)`);
  db.prepare(`INSERT INTO ${table} VALUES (?)`).run('a row the file moved aside still needs');
  copyFileSync(join(origin, `${file}-wal`), join(into, `${file}-wal`));
  db.close();
};

/** What `open` threw, or undefined when it opened. */
export const refusalOf = (open: () => unknown): unknown => {
  try {
    open();
  } catch (error) {
    return error;
  }
  return undefined;
};
