import { connectEventStoreDb } from './client.ts';
import { EventStoreDbStore, type EventStoreDbStoreOptions } from './store.ts';

export { EventStoreDbStore, type EventStoreDbStoreOptions } from './store.ts';
export { EventStoreDbError, isEventStoreUnreachable } from './driver.ts';
export type { DropNotice } from './event-reader.ts';
export type {
  DeliveryContext,
  PersistentConsumer,
  PersistentHandler,
  PersistentSubscriptionOptions,
} from './persistent.ts';
export { connectionStringFileProblems, connectionStringProblems, toClientConnectionString } from './connection-string.ts';

/**
 * Opens the store on an EventStoreDB / KurrentDB server or cluster. Accepts `esdb://`, `esdb+discover://`,
 * `kurrentdb://` and `kurrentdb+discover://` connection strings. Connecting is lazy: the first call reaches the server.
 */
export function openEventStoreDbStore(connectionString: string, options?: EventStoreDbStoreOptions): EventStoreDbStore {
  return new EventStoreDbStore(connectEventStoreDb(connectionString), options);
}
