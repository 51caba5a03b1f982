import type Database from 'better-sqlite3';
import { openPrivateSqlite, type PrivateSqliteLocation } from '../files/index.ts';

export type ReadModelDb = Database.Database;

export const READ_MODELS_DB_FILE = 'readmodels.db';

/** Page cache of the read-model connection, KiB. */
const READ_MODELS_CACHE_KIB = 64 * 1024;

/**
 * Read models live in their own SQLite file beside the event store: they are disposable (rebuilt from the log
 * at any time), so a broken or deleted read model never endangers the events. Nothing that cannot be rebuilt from
 * the events belongs here (the Secure Environment key handles live in `keys.db`, adapters/driven/key-registry).
 * The file is still private (0600): read models hold Node-IDs, pseudonym resolutions and audit trails.
 */
export const openReadModels = (location: PrivateSqliteLocation): ReadModelDb => {
  const db = openPrivateSqlite(location, { file: READ_MODELS_DB_FILE, synchronous: 'NORMAL' });
  db.defaultSafeIntegers(true);
  // A catch-up writes thousands of rows per transaction into indexes keyed by event id, stream and actor, in no
  // locality: with SQLite's default 2 MiB page cache each batch rereads most of the pages it touches. 64 MiB is
  // reserved as needed, not up front.
  db.pragma(`cache_size = -${READ_MODELS_CACHE_KIB}`);
  return db;
};
