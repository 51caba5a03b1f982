export {
  NodeId,
  CseId,
  AeId,
  AppId,
  M2MSubId,
  CredentialId,
  AssociationId,
  CommandId,
  Instant,
} from './ids.ts';
export { EntityKind, ENTITY_KINDS, streamIdOf, streamPrefixOf, parseStreamId } from './streams.ts';
export type { StreamRef } from './streams.ts';
export {
  EVENT_DATA,
  EVENT_TYPES,
  EVENT_KIND,
  DomainEventSchema,
  EventTypeSchema,
  entityIdOf,
  isEventType,
  RevocationReason,
  CRL_REASON_CODE,
  Owner,
  NodeProfile,
  CredentialKind,
  CredentialPurpose,
  Registree,
} from './events/index.ts';
export type { DomainEvent, EventType, EventData, EventOf } from './events/index.ts';
export { Actor, Role, EventMetadata, RequestSignature } from './metadata.ts';
export { upcast, currentVersionOf } from './upcasters.ts';
export { decodeStored } from './stored.ts';
export type { DecodedEvent, StoredRecord } from './stored.ts';
export {
  COMMAND_CATALOG,
  COMMAND_TYPES,
  COMMAND_FOR_EVENT,
  CommandMetadata,
  CommandSchema,
  parseCommand,
  targetOf,
  decide,
  command,
} from './commands/index.ts';
export type { Command, CommandType, CommandOptions } from './commands/index.ts';
export {
  CredenceError,
  isCredenceError,
  isCommandIdReused,
  validationError,
  concurrencyConflict,
  notFound,
  unauthorised,
  badSignature,
  protocolError,
  illegalTransition,
} from './errors.ts';
export type { Problem, ProblemCode, FieldIssue } from './errors.ts';
