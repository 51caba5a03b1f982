import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parseStoreConnectionString } from '../../../adapters/driven/store/index.ts';
import { openEventStoreDbStore } from '../../../adapters/driven/store/eventstoredb/index.ts';
import { EVENTS_DB_FILE } from '../../../adapters/driven/store/sqlite/events-db-reader.ts';
import type { ServiceConfig } from '../../../adapters/http/index.ts';

/**
 * Whether the embedded store file holds no event (absent, or without its table yet: the start makes both, empty).
 * Read on a read-write connection that writes nothing: the last connection to close removes the -wal and -shm files
 * it opened with, where a read-only one would leave them in the folder.
 */
const embeddedStoreIsEmpty = (dir: string): boolean => {
  const file = join(dir, EVENTS_DB_FILE);
  if (!existsSync(file)) return true;
  const db = new Database(file, { fileMustExist: true });
  try {
    if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").get() === undefined) return true;
    return db.prepare('SELECT 1 FROM events LIMIT 1').get() === undefined;
  } finally {
    db.close();
  }
};

/**
 * Whether the service's event store holds no event yet, read before the service opens it (and makes the data folder,
 * its keys and the rest): on an empty store the demo makes an issuing CA first, which some settings cannot serve with
 * (found in the review of review 49's fix). An external store is asked for its head and let go of; one out of reach fails here as the start would.
 */
export const storeIsEmpty = async (config: ServiceConfig): Promise<boolean> => {
  if (config.store === undefined) return embeddedStoreIsEmpty(config.data);
  const location = parseStoreConnectionString(config.store); // loadServiceConfig has checked it
  switch (location.kind) {
    case 'sqlite':
      return embeddedStoreIsEmpty(location.dir);
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
