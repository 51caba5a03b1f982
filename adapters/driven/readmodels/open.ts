import Database from 'better-sqlite3';
import { join } from 'node:path';
import { preparePrivateDatabaseFile, preparePrivateDir } from '../files/index.ts';

export type ReadModelDb = Database.Database;

export const READ_MODELS_DB_FILE = 'readmodels.db';

/**
 * Read models live in their own SQLite file beside the event store: they are disposable (rebuilt from the log
 * at any time), so a broken or deleted read model never endangers the events. Nothing that cannot be rebuilt from
 * the events belongs here (the Secure Environment key handles live in `keys.db`, adapters/driven/key-registry).
 * The file is still private (0600): read models hold Node-IDs, pseudonym resolutions and audit trails.
 */
export const openReadModels = (location: { dir: string } | { memory: true }): ReadModelDb => {
  let db: ReadModelDb;
  if ('memory' in location) {
    db = new Database(':memory:');
  } else {
    preparePrivateDir(location.dir);
    const file = join(location.dir, READ_MODELS_DB_FILE);
    preparePrivateDatabaseFile(file);
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
  }
  db.pragma('busy_timeout = 5000');
  db.defaultSafeIntegers(true);
  return db;
};
