/** The event stores behind the port: embedded SQLite, EventStoreDB / KurrentDB, and the connection string that picks one. */
export { openSqliteStore, openSqliteStoreInDir, readEventsDb, readEventsDbInDir, EVENTS_DB_FILE, SCHEMA_VERSION, SqliteEventStore } from './sqlite/index.ts';
export { DURABILITIES, GroupCommitError } from './sqlite/index.ts';
export type { Durability, StoredEventRead } from './sqlite/index.ts';
export type { SqliteStoreLocation, SqliteStoreOptions, SqliteStoreSettings, SqliteSubscription } from './sqlite/index.ts';
export { DEFAULT_STORE, markingStoreFolder, openStore, parseStoreConnectionString, storeFolderOfError, StoreConnectionString } from './open-store.ts';
export type { OpenStoreOptions, StoreLocation } from './open-store.ts';
export { EventStoreDbError, EventStoreDbStore, openEventStoreDbStore } from './eventstoredb/index.ts';
export type { DropNotice, EventStoreDbStoreOptions, PersistentConsumer, PersistentHandler, PersistentSubscriptionOptions } from './eventstoredb/index.ts';
