/**
 * The event store's server could not be reached, did not answer in time (EventStoreDB: review 55's deadlines) or was
 * not the cluster's leader, for the driving adapters (the service's error handler) that reach driven adapters only
 * through the composition root.
 */
export { isTransient as isStoreUnreachable, eventStoreUnavailableOf as storeUnavailableOf } from '../driven/store/eventstoredb/driver.ts';
export type { EventStoreUnavailable as StoreUnavailable } from '../driven/store/eventstoredb/driver.ts';
/** The embedded store's group commit that failed as a whole (an I/O error at the WAL's sync): its append's outcome is unknown. */
export { GroupCommitError } from '../driven/store/index.ts';
