import type Database from 'better-sqlite3';
import { openPrivateSqlite, type PrivateSqliteLocation } from '../files/index.ts';

export type ReadModelDb = Database.Database;

export const READ_MODELS_DB_FILE = 'readmodels.db';

/**
 * Read models live in their own SQLite file beside the event store: they are disposable (rebuilt from the log
 * at any time), so a broken or deleted read model never endangers the events. Nothing that cannot be rebuilt from
 * the events belongs here (the Secure Environment key handles live in `keys.db`, adapters/driven/key-registry).
 * The file is still private (0600): read models hold Node-IDs, pseudonym resolutions and audit trails.
 */
export const openReadModels = (location: PrivateSqliteLocation): ReadModelDb => {
  const db = openPrivateSqlite(location, { file: READ_MODELS_DB_FILE, synchronous: 'NORMAL' });
  db.defaultSafeIntegers(true);
  return db;
};
