import { openReadModels, type ReadModelDb } from '../readmodels/index.ts';
import { createEngine, type Engine } from '../engine/index.ts';
import type { Clock } from '../clock/index.ts';
import { openSqliteStore, openSqliteStoreInDir, openStore } from '../store/index.ts';
import type { EventStore } from '../store/port.ts';
import { ProjectionRunner } from '../../projections/runtime/index.ts';
import { cascadeProcessManager, type CascadeLog } from '../../projections/cascade/index.ts';
import { expiryScheduler, type ExpiryScheduler } from '../../projections/expiry/index.ts';
import { TransparencyProjection } from '../../projections/transparency/index.ts';
import { openTransparencyInDir } from '../transparency/index.ts';
import type { RequestSigningPolicyInput } from '../signing/index.ts';
import { requestVerifier, storedSignatureCheck } from '../signing/index.ts';
import { auditTrail } from '../../projections/audit/index.ts';
import { complianceProjection } from '../../projections/compliance/index.ts';
import { Infrastructure, KeyRegistry, SecurityProcedures, keyShredder } from '../procedures/index.ts';
import type { KeyHandle, SecureEnvironment } from '../secure-environment/index.ts';
import type { RandomSource } from '../crypto/index.ts';
import type { Actor } from '../../domain/metadata.ts';
import type { TrustAnchors } from '../x509/index.ts';
import { MemoryReplayCache, type ReplayCache } from '../association/index.ts';
import { PseudonymDeriver, pseudonymRotation, type PseudonymKey, type PseudonymRotation, type RotationPolicyInput } from '../../projections/pseudonyms/index.ts';

export interface Credence {
  readonly store: EventStore;
  readonly engine: Engine;
  readonly readModels: ReadModelDb;
  readonly runner: ProjectionRunner;
  readonly scheduler: ExpiryScheduler;
  /** The non-repudiation log of a data folder (absent for in-memory instances). */
  readonly transparency: TransparencyProjection | undefined;
  /** Pseudonym rotation and the directory, when `pseudonyms` was configured. */
  readonly pseudonyms: PseudonymRotation | undefined;
  /** The security procedures (Enrolment Function, Registrar CSE) when a Secure Environment was given. */
  security(): Promise<{ infrastructure: Infrastructure; procedures: SecurityProcedures }>;
  /** Runs every projection (cascade, expiry, ...) up to the head of the store. */
  settle(): Promise<void>;
  /** Advances the schedule: issues due expiries, then settles the cascades they cause. */
  tick(): Promise<number>;
  close(): Promise<void>;
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
  readonly cascadeLog?: CascadeLog;
  /** Which commands must carry a request signature, and the actors' keys (SER-016). */
  readonly signing?: RequestSigningPolicyInput;
  /** The infrastructure's Secure Environment: enables `security()` and crypto-shredding of ended credentials. */
  readonly security?: {
    readonly se: SecureEnvironment;
    readonly random: RandomSource;
    readonly actor: Actor;
    readonly owner?: string;
    readonly replayCache?: ReplayCache;
    /** Manufacturer (IDevID) trust anchors the Enrolment Function verifies certificate chains against (SER-SWIR-04). */
    readonly trustAnchors?: TrustAnchors;
  };
  /**
   * Pseudonym rotation (seed 004; SER-011, SER-018, SER-025): the keyed PRF held in the Secure Environment, and
   * the policy. Without a key, the `security` Secure Environment provides one.
   */
  readonly pseudonyms?: { readonly key?: PseudonymKey; readonly policy?: RotationPolicyInput };
}

const registeredPseudonymKey = (se: SecureEnvironment, owner: string, registry: KeyRegistry): PseudonymKey => {
  let handle: Promise<KeyHandle> | undefined;
  const key = async (): Promise<KeyHandle> => {
    const [existing] = registry.live('infrastructure', 'pseudonym-prf');
    if (existing !== undefined) return existing as KeyHandle;
    const created = await se.generate(owner, 'psk256');
    registry.register('infrastructure', created, 'pseudonym-prf');
    return created;
  };
  return { prf: async (message) => se.mac(owner, await (handle ??= key()), message) };
};

/** Wires a store, the engine, the read models and the system projections into one running instance. */
export const openCredence = (options: OpenOptions): Credence => {
  const store =
    options.store ??
    (options.connectionString !== undefined
      ? openStore(options.connectionString)
      : 'memory' in options.location
        ? openSqliteStore({ memory: true })
        : openSqliteStoreInDir(options.location.dir));
  const engine = createEngine({
    store,
    clock: options.clock,
    ...(options.signing !== undefined ? { verifyRequest: requestVerifier(options.signing) } : {}),
  });
  const log = 'dir' in options.location ? openTransparencyInDir(options.location.dir) : undefined;
  const transparency =
    log === undefined
      ? undefined
      : new TransparencyProjection({ store, log: log.log, signer: log.signer, origin: log.origin, now: () => options.clock.now() });
  const readModels = openReadModels(options.location);
  const scheduler = expiryScheduler(engine);
  const registry = options.security === undefined ? undefined : new KeyRegistry(readModels);
  const securityOwner = options.security?.owner ?? 'maf:infrastructure';
  // With a Secure Environment and no key given, the pseudonym PRF key is made there on first use and its
  // handle kept in the key registry, so pseudonyms stay stable across restarts (seed 004; SER-011).
  const pseudonymKey =
    options.pseudonyms?.key ??
    (options.security !== undefined && registry !== undefined ? registeredPseudonymKey(options.security.se, securityOwner, registry) : undefined);
  const pseudonyms =
    pseudonymKey === undefined
      ? undefined
      : pseudonymRotation({ engine, deriver: new PseudonymDeriver(pseudonymKey), ...(options.pseudonyms?.policy ? { policy: options.pseudonyms.policy } : {}) });
  const shredder =
    options.security === undefined || registry === undefined
      ? []
      : [keyShredder(options.security.se, securityOwner, registry, () => options.clock.now())];
  let security: Promise<{ infrastructure: Infrastructure; procedures: SecurityProcedures }> | undefined;
  const runner = new ProjectionRunner({
    db: readModels,
    store,
    projections: [cascadeProcessManager(engine, options.cascadeLog), scheduler, auditTrail(options.signing !== undefined ? { signatureCheck: storedSignatureCheck(options.signing) } : {}), complianceProjection(), ...(pseudonyms ? [pseudonyms] : []), ...shredder],
  });
  // A cascade can cause further cascades (node -> credentials -> associations): settle until nothing moves.
  const settle = async (): Promise<void> => {
    while ((await runner.catchUp()) > 0) {
      /* keep going */
    }
    await transparency?.catchUp();
  };
  return {
    store,
    engine,
    readModels,
    runner,
    scheduler,
    transparency,
    pseudonyms,
    settle,
    security() {
      const s = options.security;
      if (s === undefined || registry === undefined) throw new Error('openCredence: pass options.security to run the security procedures');
      security ??= Infrastructure.open({
        engine, se: s.se, registry, random: s.random, actor: s.actor, owner: securityOwner,
        replayCache: s.replayCache ?? new MemoryReplayCache({ windowSeconds: 3600, maxEntries: 100_000 }),
        ...(s.trustAnchors !== undefined ? { trustAnchors: s.trustAnchors } : {}),
      }).then((infrastructure) => ({ infrastructure, procedures: new SecurityProcedures(infrastructure) }));
      return security;
    },
    async tick() {
      await settle();
      const issued = await scheduler.tick();
      await pseudonyms?.tick();
      await settle();
      return issued;
    },
    async close() {
      await runner.stop();
      if (transparency !== undefined) {
        // Leave a signed checkpoint over everything logged, so `credence verify --data` has one to check.
        await transparency.catchUp();
        if (transparency.position !== undefined) await transparency.checkpoint();
        await transparency.stop();
        log?.log.close();
      }
      readModels.close();
      await store.close();
    },
  };
};
