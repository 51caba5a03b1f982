export { openSqliteStore, openSqliteStoreInDir, SqliteEventStore } from './sqlite-store.ts';
export type { SqliteStoreLocation, SqliteStoreOptions, SqliteStoreSettings } from './sqlite-store.ts';
export type { SqliteSubscription } from './subscription.ts';
export { SCHEMA_VERSION, DURABILITIES } from './schema.ts';
export type { Durability } from './schema.ts';
export { GroupCommitError } from './commit-errors.ts';
export { readEventsDb, readEventsDbInDir, EVENTS_DB_FILE, type StoredEventRead } from './events-db-reader.ts';
