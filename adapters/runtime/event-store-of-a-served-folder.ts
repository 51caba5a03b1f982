import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { validationError } from '../../domain/errors.ts';
import { readOnlyDatabase } from '../driven/files/read-only-database.ts';
import { READ_MODELS_DB_FILE } from '../driven/readmodels/index.ts';
import { EVENTS_DB_FILE, parseStoreConnectionString } from '../driven/store/index.ts';
import { TRANSPARENCY_DB_FILE } from '../driven/transparency/index.ts';

/*
 * Review 84: an events.db missing from a folder that was served (a backup put back under another name) was made
 * afresh, empty, and served as an empty fleet: the read models rebuilt empty, a new log, commands taken, and `npm
 * start` wrote the demo fleet into it. What says a folder held a log of events is what only events make: leaves of
 * its transparency log, and read model checkpoints (a row names an event handled; a reset deletes it). Neither is
 * made before the first start: `token create` makes access.db and the Secure Environment, `ca init` pki/ (so neither
 * is a sign), and a first start on an empty store leaves both empty (keys.db gets the infrastructure's keys then:
 * no sign of events either). A folder whose log and read models were both moved aside or deleted says nothing and
 * starts; README's restore procedure keeps the read models.
 */

const hasTable = (db: Database.Database, table: string): boolean =>
  db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(table) !== undefined;

/** What `file` of `dir` says of the events it was built from, read without writing; undefined when nothing. */
const signOf = (dir: string, file: string, table: string, read: (db: Database.Database) => string | undefined): string | undefined => {
  const path = join(dir, file);
  if (!existsSync(path)) return undefined;
  return readOnlyDatabase(path, (db) => {
    db.defaultSafeIntegers(true);
    return hasTable(db, table) ? read(db) : undefined;
  });
};

const loggedEvents = (dir: string): string | undefined =>
  signOf(dir, TRANSPARENCY_DB_FILE, 'leaves', (db) => {
    const last = db.prepare('SELECT leaf_index AS leaf, position FROM leaves ORDER BY leaf_index DESC LIMIT 1').get() as
      | { leaf: bigint; position: bigint }
      | undefined;
    // Leaf indexes count from 0.
    return last === undefined ? undefined : `${TRANSPARENCY_DB_FILE} has logged ${last.leaf + 1n} events, up to position ${last.position}`;
  });

const handledEvents = (dir: string): string | undefined =>
  signOf(dir, READ_MODELS_DB_FILE, 'projection_checkpoints', (db) => {
    const { position } = db.prepare('SELECT max(position) AS position FROM projection_checkpoints').get() as { position: bigint | null };
    return position === null ? undefined : `${READ_MODELS_DB_FILE} holds read models built from them, checkpoints up to position ${position}`;
  });

/** The folder of the SQLite store `store` names (undefined: the data folder's own); undefined for any other store. */
const sqliteFolderOf = (dataDir: string, store: string | undefined): string | undefined => {
  if (store === undefined) return dataDir;
  const location = parseStoreConnectionString(store);
  return location.kind === 'sqlite' ? location.dir : undefined;
};

/**
 * Refuses, before anything is written, to make a new `events.db` for the data folder `dataDir` when the folder was
 * built from a log of events (its transparency log's leaves, its read models' checkpoints): that store is missing, not
 * new. `store` is the connection string the folder is served with (undefined: its own events.db; only a SQLite store
 * is checked, an external one being no file to miss); `setting` names it in the refusal.
 */
export const refuseNewEventStoreForAServedFolder = (dataDir: string, store: string | undefined, setting: string): void => {
  const folder = sqliteFolderOf(dataDir, store);
  if (folder === undefined || existsSync(join(folder, EVENTS_DB_FILE))) return;
  const signs = [loggedEvents(dataDir), handledEvents(dataDir)].filter((s): s is string => s !== undefined);
  if (signs.length === 0) return;
  const path = join(folder, EVENTS_DB_FILE);
  throw validationError(
    [
      {
        path: setting,
        rule: 'event_store_missing',
        message:
          `${path} is missing, but ${dataDir} was built from a log of events (${signs.join('; ')}): a new event store would be ` +
          `served as an empty fleet. Put the event store in place as ${path} (a backup: README, "Restoring the event store from a ` +
          'backup", step 2), or serve the folder with the store it was served with',
      },
    ],
    'data folder',
  );
};
