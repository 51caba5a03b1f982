export { ExpectedRevision } from './port.ts';
export type {
  AllFilter,
  AppendOptions,
  AppendResult,
  EventStore,
  EventToAppend,
  JsonObject,
  JsonValue,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StoreSubscription,
  SubscribeOptions,
  SubscriptionStart,
} from './port.ts';
export { openSqliteStore, openSqliteStoreInDir, SCHEMA_VERSION, SqliteEventStore } from './sqlite/index.ts';
export type { SqliteStoreLocation, SqliteStoreOptions, SqliteStoreSettings, SqliteSubscription } from './sqlite/index.ts';
export { DEFAULT_STORE, openStore, parseStoreConnectionString, StoreConnectionString } from './open-store.ts';
export type { OpenStoreOptions, StoreLocation } from './open-store.ts';
export { EventStoreDbError, EventStoreDbStore, openEventStoreDbStore } from './eventstoredb/index.ts';
export type { DropNotice, EventStoreDbStoreOptions, PersistentConsumer, PersistentHandler, PersistentSubscriptionOptions } from './eventstoredb/index.ts';
