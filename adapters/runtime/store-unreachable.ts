/**
 * The event store's server could not be reached or did not answer in time (EventStoreDB: review 55's deadlines), for
 * the driving adapters (the service's error handler) that reach driven adapters only through the composition root.
 */
export { isTransient as isStoreUnreachable } from '../driven/store/eventstoredb/driver.ts';
