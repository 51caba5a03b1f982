// TEST-ONLY: the gRPC stand-in for EventStoreDB (see server.ts for what it is and is not).
export { startStandIn, type CredentialsRefusal, type StandIn, type StandInOptions } from './server.ts';
export type { DropMode } from './all-subscription.ts';
export type { LoggedEvent, ProposedEvent } from './memory-log.ts';
export type { Group } from './persistent-service.ts';
export { startStalledServer, type StalledServer } from './stalled-server.ts';
export { READ_ALL_BACKWARDS } from './streams-service.ts';
