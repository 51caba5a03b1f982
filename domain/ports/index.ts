/**
 * The ports: what the core needs from the outside world, as interfaces with no I/O. Adapters implement them;
 * domain, machines and projections depend only on these.
 */
export { ExpectedRevision, MAX_STREAMS_PER_READ } from './event-store.ts';
export type {
  AllFilter,
  AppendOptions,
  AppendResult,
  FactRead,
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
} from './event-store.ts';
export { DEFAULT_LISTED_KEYS, hostUseOf, KeyHandle, MAX_LISTED_KEYS } from './secure-environment.ts';
export { bindOwner, ownerView } from './owner-view.ts';
export { destroyNewKey, howToDestroy } from './destroy-new-key.ts';
export type {
  DeriveKeySpec,
  GeneratedKeyKind,
  GenerateOptions,
  KeptInside,
  KeyDescription,
  KeyKind,
  KeyListPage,
  KeyListRequest,
  KeyOptions,
  KeyUsage,
  ListedKey,
  OwnedSecureEnvironment,
  OwnerScopedSecureEnvironment,
  SecureEnvironment,
  SymmetricKeyKind,
  UnwrapSpec,
} from './secure-environment.ts';
export { TransparencyLogAltered, type LeafToAppend, type LoggedLeaf, type LogRefusal, type StoredCheckpoint, type StreamSlot, type TransparencyLogStore } from './transparency-log.ts';
export type { CheckpointWitness } from './checkpoint-witness.ts';
export type { Clock } from './clock.ts';
export type { RandomSource } from './random.ts';
export type { ReplayCache, ReplayVerdict } from './replay-cache.ts';
export type { CommandOutcome, CommandSender, CommandSink, ExecuteOptions } from './command-sink.ts';
export { sentBy } from './command-sink.ts';
