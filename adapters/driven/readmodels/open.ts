import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export type ReadModelDb = Database.Database;

/**
 * Read models live in their own SQLite file beside the event store: they are disposable (rebuilt from the log
 * at any time), so a broken or deleted read model never endangers the events.
 */
export const openReadModels = (location: { dir: string } | { memory: true }): ReadModelDb => {
  let db: ReadModelDb;
  if ('memory' in location) {
    db = new Database(':memory:');
  } else {
    mkdirSync(location.dir, { recursive: true });
    db = new Database(join(location.dir, 'readmodels.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
  }
  db.pragma('busy_timeout = 5000');
  db.defaultSafeIntegers(true);
  return db;
};
