import type { Observable } from 'rxjs';
import type { Actor } from '../../domain/metadata.ts';
import type { CheckpointWitness, Clock, EventStore, RandomSource, ReplayCache, SecureEnvironment, TransparencyLogStore } from '../../domain/ports/index.ts';
import type { RequestSigningPolicyInput } from '../../domain/signing/index.ts';
import type { CheckpointSigner } from '../../domain/transparency/index.ts';
import type { TrustAnchors } from '../../domain/x509/index.ts';
import type { IssuingCa } from '../../domain/x509/issuing-ca.ts';
import type { CascadeLog } from '../../projections/cascade/index.ts';
import type { ExpiryDeadLetter, ExpiryScheduler } from '../../projections/expiry/index.ts';
import type { PkiChanges } from '../../projections/pki/index.ts';
import type { PseudonymKey, PseudonymRotation, RotationPolicyInput } from '../../projections/pseudonyms/index.ts';
import type { OnRulesChanged, ProjectionRunner } from '../../projections/runtime/index.ts';
import type { DeliveryOptions, LifecycleEvent, LifecycleFilterInput } from '../../projections/streams/index.ts';
import type { TransparencyProjection } from '../../projections/transparency/index.ts';
import type { ReadModelDb } from '../driven/readmodels/index.ts';
import type { Durability } from '../driven/store/index.ts';
import type { Engine } from '../engine/index.ts';
import type { EnrolmentEndpoint, Infrastructure, KeyRegistry, RegistrarEndpoint, SecurityProcedures } from '../protocols/procedures/index.ts';
import type { EventsDbWatch } from './events-db-replaced.ts';
import type { MarkedKeyShredder } from './keys-shredded-again.ts';

/** What `openCredence` (open-credence.ts) is given, and the running instance it returns. */
export interface Credence {
  readonly store: EventStore;
  readonly engine: Engine;
  /** Disposable: deleted and rebuilt from the events at any time (`<data>/readmodels.db`). */
  readonly readModels: ReadModelDb;
  /**
   * Which Secure Environment keys the infrastructure holds for which entity (`<data>/keys.db`), when a Secure
   * Environment was given. Durable state, not a read model: handles are in no event, so nothing could rebuild it.
   */
  readonly keyRegistry: KeyRegistry | undefined;
  readonly runner: ProjectionRunner;
  readonly scheduler: ExpiryScheduler;
  /** The non-repudiation log of a data folder (absent for in-memory instances). */
  readonly transparency: TransparencyProjection | undefined;
  /**
   * The embedded store's events.db held to the path it was opened under and its head to the positions given out
   * (events-db-replaced.ts), checked at the live runtime's ticks, by /readyz and at most once a second by a command's
   * admission; absent in memory, on EventStoreDB and for a store passed in.
   */
  readonly eventsDb?: EventsDbWatch | undefined;
  /** That log's store and signer, for proofs and evidence bundles (projections/transparency/evidence.ts). */
  readonly transparencyLog: { readonly log: TransparencyLogStore; readonly signer: CheckpointSigner; readonly origin: string } | undefined;
  /** Pseudonym rotation and the directory, when `pseudonyms` was configured. */
  readonly pseudonyms: PseudonymRotation | undefined;
  /**
   * Crypto-shredding of ended entities' keys, when a Secure Environment was given (its owed keys, their retry), with its
   * mark in keys.db: the live runtime's start destroys again what a keys.db put back from a backup holds in use.
   */
  readonly shredder: MarkedKeyShredder | undefined;
  /** Revocations of issuing-CA certificates as the `pki` read model records them (CRL publisher, OCSP cache). */
  readonly pkiChanges: PkiChanges;
  /** Whether a Secure Environment was given, so that `security()` can open the security procedures. */
  readonly hasSecurity: boolean;
  /**
   * The security procedures (Enrolment Function, Registrar CSE) when a Secure Environment was given: in process
   * (`procedures`) and for devices across a connection (`endpoints`). Opened on the first call, which sweeps the keys
   * of runs that died with the last process; later calls share that opening, or open again if it failed.
   */
  security(): Promise<Security>;
  /**
   * Lifecycle events for integrators: catch-up then live, from the start, from now or strictly after a position,
   * filtered by kind, type and stream; back-pressure through `onEvent` (projections/streams).
   */
  events$(filter?: LifecycleFilterInput, options?: DeliveryOptions<LifecycleEvent>): Observable<LifecycleEvent>;
  /**
   * Makes the connections the live components write from (readmodels.db, transparency.db) wait at most `ms` for
   * another process's write lock, until the returned call puts their waits back (live.ts).
   */
  waitForOtherWritersAtMost(ms: number): () => void;
  /** Runs every projection (cascade, expiry, ...) up to the head of the store. */
  settle(): Promise<void>;
  /**
   * Advances the schedule: issues due expiries, then settles the cascades they cause, then ends the protocol runs
   * past their session timeout (`sweepExpiredRuns`), then tries again the keys the shredder owes whose wait is over
   * (and throws, once the rest is done, when one was refused again).
   */
  tick(): Promise<number>;
  /**
   * Ends the Enrolment Function's and the Registrar's runs whose session timeout has passed at the clock's instant,
   * destroying their keys, without waiting for another message; how many. Nothing before `security()` has opened
   * them. `tick` and the live runtime's tick run it.
   */
  sweepExpiredRuns(): Promise<number>;
  close(): Promise<void>;
}

/** The infrastructure ends of the security procedures, opened once per instance. */
export interface Security {
  readonly infrastructure: Infrastructure;
  readonly procedures: SecurityProcedures;
  /** The Enrolment Function and the Registrar CSE one message at a time, for devices across a connection. */
  readonly endpoints: { readonly enrolment: EnrolmentEndpoint; readonly registrar: RegistrarEndpoint };
}

export interface OpenOptions {
  readonly location: { dir: string } | { memory: true };
  readonly clock: Clock;
  readonly store?: EventStore;
  /**
   * The event store as a connection string (`sqlite:./data`, `esdb://…`, `kurrentdb://…`; see
   * adapters/store/open-store.ts) when `store` is not given. `location` still holds the read models and the
   * transparency log. Default: the SQLite store of `location`.
   */
  readonly connectionString?: string;
  /**
   * The embedded store's durability (issue 15): `full` (default) acknowledges an append once it is synced to disk,
   * `normal` once written to the OS (tests and benchmarks that say so). Ignored when `store` is given.
   */
  readonly durability?: Durability;
  /** Bytes of entity snapshots the engine keeps between commands (default 64 MiB; see adapters/engine/entity-cache.ts). */
  readonly entityCacheMaxBytes?: number;
  readonly cascadeLog?: CascadeLog;
  /** Told of each due deadline the expiry scheduler dead-letters (its derived command id held by another command). */
  readonly expiryDeadLetter?: (letter: ExpiryDeadLetter) => void;
  /**
   * Which commands must carry a request signature, and the actors' keys (SER-016). The audit trail judges stored
   * signatures by it; one built under another policy (or none) is refused or rebuilt at the first catch-up, as
   * `onReadModelRulesChanged` says (ProjectionRunner.checkRules).
   */
  readonly signing?: RequestSigningPolicyInput;
  /**
   * What the first catch-up (`settle`, `tick`, the live runtime) does with a read model built under other rules than
   * this instance's: the audit trail of a data folder judged under another request-signing policy than `signing`, or
   * under one where `signing` is absent (or the reverse). `refuse` (the default) throws ReadModelRulesChanged, naming
   * both policies, and writes nothing: a library script that opens a service's folder without its policy must not
   * re-judge the audit trail under none (found in review: verified and invalid rows became `signed`, silently).
   * `rebuild` replays it from position 0 under `signing`: only for the process that holds the deployment's policy,
   * which startService (adapters/http/start.ts) is, and says so at warn.
   */
  readonly onReadModelRulesChanged?: OnRulesChanged;
  /**
   * The infrastructure's Secure Environment: enables `security()` and crypto-shredding of ended credentials. Any
   * implementation of the port; the components get only `owner`'s view of it (`ownerView`, made once here).
   */
  readonly security?: {
    readonly se: SecureEnvironment;
    readonly random: RandomSource;
    readonly actor: Actor;
    /** The owner the infrastructure acts as in `se` (default 'maf:infrastructure'). */
    readonly owner?: string;
    readonly replayCache?: ReplayCache;
    /** Manufacturer (IDevID) trust anchors the Enrolment Function verifies certificate chains against (SER-SWIR-04). */
    readonly trustAnchors?: TrustAnchors;
    /**
     * Operational X.509 certificates from nodes' CSRs (issue 13, docs/pki.md): the issuing CAs (`loadIssuingCas`; a
     * node's is the one named by its M2M-Sub-ID, else `default`), the public URL relying parties reach the service at
     * (a function is read at each issuance), and whether an asymmetric credential needs a CSR (default false).
     */
    readonly pki?: { readonly cas: readonly IssuingCa[]; readonly baseUrl: string | (() => string); readonly requireCsr?: boolean };
    /**
     * Authenticated protocol runs one device may begin per replay window at the Enrolment Function and at the
     * Registrar (default 32): past them it alone is refused `too_many_runs` (README, "Replay protection").
     */
    readonly runsPerInitiator?: number;
    /** Runs in flight, pending or authenticated, the Enrolment Function and the Registrar each hold at once (default 10,000). */
    readonly maxSessions?: number;
  };
  /**
   * Pseudonym rotation (seed 004; SER-011, SER-018, SER-025): the keyed PRF held in the Secure Environment, and
   * the policy. Without a key, the `security` Secure Environment provides one.
   */
  readonly pseudonyms?: { readonly key?: PseudonymKey; readonly policy?: RotationPolicyInput };
  /**
   * What signs the checkpoints of the data folder's transparency log instead of its key file (`transparency.key`): the
   * log key in an HSM (`openHsmLogKey`, adapters/runtime/transparency-key.ts). It must be the key that signed the log's
   * latest checkpoint, or nothing opens. Required with any `security.se` but the embedded one, in a folder without `transparency.key`:
   * refused (`validation`, this path) before anything is written, rather than a key file made outside the HSM.
   */
  readonly transparencySigner?: CheckpointSigner;
  /**
   * A copy of the log's latest checkpoint kept outside the data folder (`checkpointWitnessFile(path)`; review 98): the
   * log must extend it, or nothing opens (`validation`, path `checkpointWitness`, rule `log_extends_witness`), and every
   * checkpoint signed replaces it. Without one, a log rewritten with its checkpoints removed while no process held the
   * folder is signed at the next start. Needs a data folder (`location.dir`).
   */
  readonly checkpointWitness?: CheckpointWitness;
}
