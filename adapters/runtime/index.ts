/**
 * Credence's public API, what `import … from 'credence'` gives a library user. Everything else is internal and
 * may move; this list is the contract.
 */

// A running instance: store, engine, read models, system projections, security procedures.
export { openCredence } from './open-credence.ts';
export type { Credence, OpenOptions } from './credence.ts';

// The command side.
export { createEngine } from '../engine/index.ts';
export type { Engine, EngineOptions, PeekedEntity } from '../engine/index.ts';
export { command, COMMAND_TYPES, parseCommand } from '../../domain/commands/index.ts';
export type { Command, CommandType } from '../../domain/commands/index.ts';

// Stores, Secure Environments and clocks.
export { openEventStoreDbStore, openSqliteStore, openSqliteStoreInDir, openStore, StoreConnectionString } from '../driven/store/index.ts';
export { EmbeddedSecureEnvironment, parsePkcs11Uri, Pkcs11SecureEnvironment, secureEnvironmentConfigForDataDir } from '../driven/secure-environment/index.ts';
export type { Pkcs11SecureEnvironmentDeps, Pkcs11Uri } from '../driven/secure-environment/index.ts';
// With a PKCS#11 Secure Environment, the transparency log key in the token: its signer is openCredence's
// `transparencySigner`.
export { openHsmLogKey, openSecureEnvironmentLogKey } from './transparency-key.ts';
export type { HsmLogKey } from './transparency-key.ts';
// The log's latest checkpoint kept outside the data folder: openCredence's `checkpointWitness`.
export { checkpointWitnessFile } from './checkpoint-witness-file.ts';
export { FakeClock, systemClock } from '../driven/clock/index.ts';
export type {
  Clock,
  CommandOutcome,
  CommandSink,
  EventStore,
  ExecuteOptions,
  KeyHandle,
  OwnedSecureEnvironment,
  RandomSource,
  RecordedEvent,
  SecureEnvironment,
} from '../../domain/ports/index.ts';

// Errors: every refusal is a CredenceError whose `problem` says why.
export { CredenceError, isCredenceError, isCommandIdReused } from '../../domain/errors.ts';
export type { FieldIssue, Problem, ProblemCode } from '../../domain/errors.ts';

// Integrator streams and auditor replay.
export { lifecycleEvents$, publicEvents$, parseLifecycleFilter } from '../../projections/streams/index.ts';
export type { DeliveryOptions, LifecycleEvent, LifecycleFilterInput, PublicFilterInput } from '../../projections/streams/index.ts';
export { replayAll, replayEntity } from '../../projections/replay/index.ts';
export type { EntityReplay, FleetReplay, Finding } from '../../projections/replay/index.ts';

// Non-repudiation: signing requests, and verifying evidence offline.
export { signCommand } from '../../domain/signing/index.ts';
export type { RequestSigningPolicyInput } from '../../domain/signing/index.ts';
export { readSigningPolicyFile } from './signing-policy-file.ts';
export type { SigningPolicyRead } from './signing-policy-file.ts';
export { verifyEvidenceBundle } from '../../domain/transparency/index.ts';

// The service: everything that follows the store live.
export { startLive } from './live.ts';
// CRLs and OCSP of the issuing CAs, kept current by the revocation events (issue 13).
export { startPkiRevocation } from './pki-revocation.ts';
export { PkiIncomplete } from './pki-complete.ts';
export { PublicationUnrecorded } from './pki-published.ts';
export type { PublishedRevocation } from '../driven/pki/published-revocations.ts';
// The data folder's issuing CAs (issue 13): what the service loads at start.
export { loadIssuingCas } from '../driven/pki/index.ts';
export type { IssuingCa } from '../../domain/x509/issuing-ca.ts';
export type { PkiRevocation, PkiRevocationOptions } from './pki-revocation.ts';
export type { ComponentFailing, ComponentStatus, LiveOptions, LiveRuntime } from './live-runtime.ts';

// The service's data folder: its Secure Environment and who may call the API (issue 12).
export { lockDataFolder, openDataFolderSecureEnvironment, openServiceSecureEnvironment, SERVICE_LOCK_FILE, systemRandom } from './data-folder.ts';
export type { ClosableSecureEnvironment, DataFolderLock, SweptDataFolderLock } from './data-folder.ts';
export { openAccessRegistry } from '../driven/access/index.ts';
export type { AccessRegistry, RecordRefusal, SigningKeyRecord, TokenPage, TokenRecord } from '../driven/access/index.ts';
