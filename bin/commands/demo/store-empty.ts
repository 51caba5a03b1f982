import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { asDamagedDatabase } from '../../../adapters/driven/files/damaged-database.ts';
import { assertNoneForeignOwned, foreignOwnedPathsIn } from '../../../adapters/driven/files/index.ts';
import { parseStoreConnectionString } from '../../../adapters/driven/store/index.ts';
import { openEventStoreDbStore } from '../../../adapters/driven/store/eventstoredb/index.ts';
import { EVENTS_DB_FILE } from '../../../adapters/driven/store/sqlite/events-db-reader.ts';
import type { ServiceConfig } from '../../../adapters/http/index.ts';

/**
 * Whether the embedded store file holds no event (absent, or without its table yet: the start makes both, empty).
 * Read before the start's own checks, so it makes them first (review 52): a folder another account owns is refused
 * before anything in it is opened, and a file SQLite cannot read is the typed damaged_database naming it and what
 * mends it, not the driver's bare "file is not a database". Read on a read-write connection that may write nothing
 * (query_only): the last connection to close removes the -wal and -shm files it opened with, where a read-only one
 * would leave them in the folder.
 */
const embeddedStoreIsEmpty = (dir: string, field: string): boolean => {
  assertNoneForeignOwned(foreignOwnedPathsIn(dir, field), dir);
  const file = join(dir, EVENTS_DB_FILE);
  if (!existsSync(file)) return true;
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { fileMustExist: true });
    db.pragma('query_only = ON');
    if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").get() === undefined) return true;
    return db.prepare('SELECT 1 FROM events LIMIT 1').get() === undefined;
  } catch (error) {
    throw asDamagedDatabase(file, error);
  } finally {
    db?.close();
  }
};

/**
 * Whether the service's event store holds no event yet, read before the service opens it (and makes the data folder,
 * its keys and the rest): on an empty store the demo makes an issuing CA first, which some settings cannot serve with
 * (found in the review of review 49's fix). An external store is asked for its head and let go of; one out of reach fails here as the start would.
 */
export const storeIsEmpty = async (config: ServiceConfig): Promise<boolean> => {
  if (config.store === undefined) return embeddedStoreIsEmpty(config.data, 'data');
  const location = parseStoreConnectionString(config.store); // loadServiceConfig has checked it
  switch (location.kind) {
    case 'sqlite':
      return embeddedStoreIsEmpty(location.dir, 'store');
    case 'sqlite-memory':
      return true;
    case 'eventstoredb': {
      const store = openEventStoreDbStore(location.connectionString);
      try {
        return (await store.headPosition()) === undefined;
      } finally {
        await store.close();
      }
    }
  }
};
