import type Database from 'better-sqlite3';
import { openPrivateSqlite, type PrivateSqliteLocation } from '../files/index.ts';

export type ReadModelDb = Database.Database;

export const READ_MODELS_DB_FILE = 'readmodels.db';

/** Page cache of the read-model connection, KiB. */
const READ_MODELS_CACHE_KIB = 64 * 1024;

/** WAL pages (4 KiB) after which a commit copies the WAL back into the database file (SQLite's default: 1,000). */
const READ_MODELS_WAL_CHECKPOINT_PAGES = 16_384;

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
  // A catch-up batch dirties pages all over those indexes, so with the default threshold nearly every commit ran a
  // checkpoint (two fsyncs under NORMAL, every frame copied again). 64 MiB of WAL between checkpoints copies a page
  // rewritten by many batches once; the file is cut back to that size after each checkpoint. Durability is the
  // same: NORMAL in WAL mode syncs at checkpoints, and a tail lost to a power cut is re-projected from the log,
  // since each batch's checkpoint is in its own transaction.
  db.pragma(`wal_autocheckpoint = ${READ_MODELS_WAL_CHECKPOINT_PAGES}`);
  db.pragma(`journal_size_limit = ${READ_MODELS_WAL_CHECKPOINT_PAGES * 4096}`);
  return db;
};
