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
