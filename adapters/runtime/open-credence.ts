import type { Observable } from 'rxjs';
import type { Actor } from '../../domain/metadata.ts';
import type {
  Clock,
  EventStore,
  KeyHandle,
  OwnedSecureEnvironment,
  RandomSource,
  ReplayCache,
  SecureEnvironment,
  TransparencyLogStore,
} from '../../domain/ports/index.ts';
import type { CheckpointSigner } from '../../domain/transparency/index.ts';
import { ownerView } from '../../domain/ports/index.ts';
import { requestVerifier, type RequestSigningPolicyInput } from '../../domain/signing/index.ts';
import type { TrustAnchors } from '../../domain/x509/index.ts';
import type { IssuingCa } from '../../domain/x509/issuing-ca.ts';
import { issuingCaFor } from '../../domain/x509/issuance/index.ts';
import type { CascadeLog } from '../../projections/cascade/index.ts';
import type { ExpiryDeadLetter, ExpiryScheduler } from '../../projections/expiry/index.ts';
import { issuedByOurCa, PkiChanges } from '../../projections/pki/index.ts';
import {
  PseudonymDeriver,
  rotationIsDerived,
  pseudonymRotation,
  secureEnvironmentPseudonymKey,
  type PseudonymKey,
  type PseudonymRotation,
  type RotationPolicyInput,
} from '../../projections/pseudonyms/index.ts';
import { ProjectionRunner, type OnRulesChanged } from '../../projections/runtime/index.ts';
import { lifecycleEvents$, type DeliveryOptions, type LifecycleEvent, type LifecycleFilterInput } from '../../projections/streams/index.ts';
import { TransparencyLogOfAnotherLog, TransparencyProjection } from '../../projections/transparency/index.ts';
import { preparePrivateDir, withPrivateUmask } from '../driven/files/index.ts';
import { SqliteKeyRegistry } from '../driven/key-registry/index.ts';
import { openReadModels, type ReadModelDb } from '../driven/readmodels/index.ts';
import { openReplayCache } from '../driven/replay-cache/index.ts';
import { openSqliteStore, openSqliteStoreInDir, openStore, parseStoreConnectionString, type Durability } from '../driven/store/index.ts';
import { openTransparencyInDir } from '../driven/transparency/index.ts';
import { createEngine, type Engine } from '../engine/index.ts';
import { EnrolmentEndpoint, Infrastructure, RegistrarEndpoint, SecurityProcedures, keyShredder, type KeyRegistry, type KeyShredder } from '../protocols/procedures/index.ts';
import { closeEach } from './close-each.ts';
import { systemProjections } from './projections.ts';
import { refuseLogKeyOutsideHsm } from './transparency-key.ts';

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
  /** That log's store and signer, for proofs and evidence bundles (projections/transparency/evidence.ts). */
  readonly transparencyLog: { readonly log: TransparencyLogStore; readonly signer: CheckpointSigner; readonly origin: string } | undefined;
  /** Pseudonym rotation and the directory, when `pseudonyms` was configured. */
  readonly pseudonyms: PseudonymRotation | undefined;
  /** Crypto-shredding of ended entities' keys, when a Secure Environment was given (its owed keys, their retry). */
  readonly shredder: KeyShredder | undefined;
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
  /** Runs every projection (cascade, expiry, ...) up to the head of the store. */
  settle(): Promise<void>;
  /**
   * Advances the schedule: issues due expiries, then settles the cascades they cause, then tries again the keys the
   * shredder owes whose wait is over (and throws, once the rest is done, when one was refused again).
   */
  tick(): Promise<number>;
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
}

/** The Enrolment Function's certificate issuance from the `pki` option (issue 13). */
const certificateIssuance = (pki: NonNullable<NonNullable<OpenOptions['security']>['pki']>) => {
  const { baseUrl } = pki;
  return {
    issuingCa: (serviceParameters: { readonly m2mSubId?: string | undefined }) => issuingCaFor(pki.cas, serviceParameters.m2mSubId),
    baseUrl: typeof baseUrl === 'function' ? baseUrl : () => baseUrl,
    ...(pki.requireCsr !== undefined ? { requireCsr: pki.requireCsr } : {}),
  };
};

/** The pseudonym PRF key: found in the key registry, or made in the Secure Environment on first use and registered. */
const registeredPseudonymKey = (se: OwnedSecureEnvironment, registry: KeyRegistry): PseudonymKey =>
  secureEnvironmentPseudonymKey(se, async (): Promise<KeyHandle> => {
    const [existing] = registry.live('infrastructure', 'pseudonym-prf');
    if (existing !== undefined) return existing as KeyHandle;
    const created = await se.generate('psk256');
    registry.register('infrastructure', created, 'pseudonym-prf');
    return created;
  });

/**
 * The composition root: the one place that wires a store, the engine, the read models, the system projections
 * and the security procedures into one running instance.
 */
export const openCredence = (options: OpenOptions): Credence =>
  // Every file created while wiring (events, read models, key registry, transparency log) is private: 0600.
  withPrivateUmask(() => compose(options));

const compose = (options: OpenOptions): Credence => {
  // Parsed (and bounded) before anything is opened; messages never repeat the string, which may carry credentials.
  if (options.connectionString !== undefined) parseStoreConnectionString(options.connectionString, 'connectionString');
  // The one place the infrastructure's owner is named: every component below gets this view, never the owner. Bound
  // before anything is opened, so an environment that does not serve this owner (`unauthorised`) leaves nothing open.
  const infrastructureSe = options.security === undefined ? undefined : ownerView(options.security.se, options.security.owner ?? 'maf:infrastructure');
  // Before the folder is made: with an HSM, a log key file made there would sit outside it.
  if ('dir' in options.location && options.security !== undefined) refuseLogKeyOutsideHsm(options.location.dir, options.security.se, options.transparencySigner);
  // Created 0700, and refused when group or others may write to it, before any file is opened in it.
  if ('dir' in options.location) preparePrivateDir(options.location.dir);
  const durability = options.durability !== undefined ? { durability: options.durability } : {};
  const store =
    options.store ??
    (options.connectionString !== undefined
      ? openStore(options.connectionString, durability)
      : 'memory' in options.location
        ? openSqliteStore({ memory: true, ...durability })
        : openSqliteStoreInDir(options.location.dir, durability));
  const logSigner = options.transparencySigner !== undefined ? { signer: options.transparencySigner } : {};
  const log = 'dir' in options.location ? openTransparencyInDir(options.location.dir, logSigner) : undefined;
  const transparency =
    log === undefined
      ? undefined
      : new TransparencyProjection({ store, log: log.log, signer: log.signer, origin: log.origin, now: () => options.clock.now() });
  const readModels = openReadModels(options.location);
  // Opening it moves a registry an earlier version kept in readmodels.db into keys.db.
  const registry = options.security === undefined ? undefined : SqliteKeyRegistry.open(options.location, { legacy: readModels });
  // With a Secure Environment and no key given, the pseudonym PRF key is made there on first use and its
  // handle kept in the key registry, so pseudonyms stay stable across restarts (seed 004; SER-011).
  const pseudonymKey =
    options.pseudonyms?.key ??
    (infrastructureSe !== undefined && registry !== undefined ? registeredPseudonymKey(infrastructureSe, registry) : undefined);
  const deriver = pseudonymKey === undefined ? undefined : new PseudonymDeriver(pseudonymKey);
  const engine = createEngine({
    store,
    clock: options.clock,
    ...(options.entityCacheMaxBytes !== undefined ? { cacheMaxBytes: options.entityCacheMaxBytes } : {}),
    ...(options.signing !== undefined ? { verifyRequest: requestVerifier(options.signing) } : {}),
    // Values only an adapter can check: a rotation's pseudonym is the key's derivation, and a certificate said to be of
    // one of the CAs is signed by it (without CAs configured, a library instance has nothing to check it against).
    checks: [
      ...(deriver !== undefined ? [rotationIsDerived(deriver)] : []),
      ...(options.security?.pki !== undefined ? [issuedByOurCa(options.security.pki.cas)] : []),
    ],
  });
  const pseudonyms =
    deriver === undefined ? undefined : pseudonymRotation({ engine, deriver, ...(options.pseudonyms?.policy ? { policy: options.pseudonyms.policy } : {}) });
  const shredder =
    infrastructureSe === undefined || registry === undefined ? undefined : keyShredder(infrastructureSe, registry, () => options.clock.now());
  // SER-012 across restarts (issue 11 item 10): by default `replay-cache.db` in the data folder, memory only in memory.
  let ownReplayCache: ReturnType<typeof openReplayCache> | undefined;
  const openSecurity = async (s: NonNullable<OpenOptions['security']>, se: OwnedSecureEnvironment, keys: KeyRegistry): Promise<Security> => {
    const infrastructure = await Infrastructure.open({
      engine, se, registry: keys, random: s.random, actor: s.actor,
      replayCache: s.replayCache ?? (ownReplayCache ??= withPrivateUmask(() => openReplayCache(options.location))),
      ...(s.trustAnchors !== undefined ? { trustAnchors: s.trustAnchors } : {}),
      ...(s.pki !== undefined ? { certificates: certificateIssuance(s.pki) } : {}),
      ...(s.runsPerInitiator !== undefined ? { runsPerInitiator: s.runsPerInitiator } : {}),
    });
    return {
      infrastructure,
      procedures: new SecurityProcedures(infrastructure),
      endpoints: { enrolment: new EnrolmentEndpoint(infrastructure), registrar: new RegistrarEndpoint(infrastructure) },
    };
  };
  let security: Promise<Security> | undefined;
  const pkiChanges = new PkiChanges();
  const { projections, scheduler } = systemProjections({
    engine,
    pki: pkiChanges,
    ...(options.signing !== undefined ? { signing: options.signing } : {}),
    ...(options.cascadeLog !== undefined ? { cascadeLog: options.cascadeLog } : {}),
    ...(options.expiryDeadLetter !== undefined ? { expiryDeadLetter: options.expiryDeadLetter } : {}),
    extra: [...(pseudonyms ? [pseudonyms] : []), ...(shredder ? [shredder] : [])],
  });
  // Refused unless the caller says it holds the deployment's signing policy (OpenOptions.onReadModelRulesChanged).
  const runner = new ProjectionRunner({ db: readModels, store, projections, onRulesChanged: options.onReadModelRulesChanged ?? 'refuse' });
  // A cascade can cause further cascades (node -> credentials -> associations): settle until nothing moves.
  const settle = async (): Promise<void> => {
    while ((await runner.catchUp()) > 0) {
      /* keep going */
    }
    await transparency?.catchUp();
    await transparency?.checkpointIfDue();
  };
  return {
    store,
    engine,
    readModels,
    keyRegistry: registry,
    runner,
    scheduler,
    transparency,
    transparencyLog: log === undefined ? undefined : { log: log.log, signer: log.signer, origin: log.origin },
    pseudonyms,
    shredder,
    pkiChanges,
    events$: (filter, deliveryOptions) => lifecycleEvents$(store, filter, deliveryOptions),
    settle,
    hasSecurity: options.security !== undefined,
    security() {
      const s = options.security;
      if (s === undefined || infrastructureSe === undefined || registry === undefined) throw new Error('openCredence: pass options.security to run the security procedures');
      if (security === undefined) {
        const opening = openSecurity(s, infrastructureSe, registry);
        security = opening;
        // A failed opening (the store unreachable for a moment, say) is not kept: the next call opens again, instead
        // of every later caller getting the same rejection until a restart.
        opening.catch(() => {
          if (security === opening) security = undefined;
        });
      }
      return security;
    },
    async tick() {
      await settle();
      const issued = await scheduler.tick();
      await pseudonyms?.tick();
      await settle();
      await shredder?.retryOwed();
      return issued;
    },
    close: () =>
      closeEach(
        [
          () => runner.stop(),
          // Leave a signed checkpoint over everything logged, so `credence verify --data` has one to check.
          async () => {
            if (transparency === undefined) return;
            await transparency.catchUp();
            if (transparency.position !== undefined) await transparency.checkpoint();
          },
          () => transparency?.stop(),
          () => log?.log.close(),
          () => readModels.close(),
          () => registry?.close(),
          () => ownReplayCache?.close(),
          () => store.close(),
        ],
        // A log stopped over a restored store signs nothing and stays stopped: settle and the live runtime say so, and
        // a shutdown in that state is the operator's next step (README, "Restoring the event store from a backup").
        (error) => error instanceof TransparencyLogOfAnotherLog,
      ),
  };
};
