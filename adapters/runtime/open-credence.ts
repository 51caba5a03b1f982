import type { OwnedSecureEnvironment } from '../../domain/ports/index.ts';
import { assertInfrastructureActor } from '../protocols/procedures/infrastructure-actor.ts';
import { ownerView, TransparencyLogAltered } from '../../domain/ports/index.ts';
import { validationError } from '../../domain/errors.ts';
import { requestVerifier } from '../../domain/signing/index.ts';
import { issuingCaFor } from '../../domain/x509/issuance/index.ts';
import { reactionsAtOnceFor } from '../../projections/cascade/index.ts';
import { issuedByOurCa, PkiChanges } from '../../projections/pki/index.ts';
import { PseudonymDeriver, rotationIsDerived, pseudonymRotation } from '../../projections/pseudonyms/index.ts';
import { ProjectionRunner } from '../../projections/runtime/index.ts';
import { lifecycleEvents$ } from '../../projections/streams/index.ts';
import { TransparencyLogForked, TransparencyLogOfAnotherLog } from '../../projections/transparency/index.ts';
import { preparePrivateDir, waitForOtherWritersAtMost, withPrivateUmask } from '../driven/files/index.ts';
import { SqliteKeyRegistry } from '../driven/key-registry/index.ts';
import { openReadModels } from '../driven/readmodels/index.ts';
import { openReplayCache } from '../driven/replay-cache/index.ts';
import { openSqliteStore, openSqliteStoreInDir, openStore, parseStoreConnectionString } from '../driven/store/index.ts';
import { openTransparencyInDir, refuseLogKeyWithoutItsLog } from '../driven/transparency/index.ts';
import { createEngine } from '../engine/index.ts';
import { EnrolmentEndpoint, Infrastructure, RegistrarEndpoint, SecurityProcedures, keyShredder, type KeyRegistry } from '../protocols/procedures/index.ts';
import { throwFailures } from '../protocols/procedures/sweep-failures.ts';
import { closeEach } from './close-each.ts';
import { refuseNewEventStoreForAServedFolder } from './event-store-of-a-served-folder.ts';
import { firstEventRememberedBy, rememberFirstEvent } from './first-event-of-the-folder.ts';
import { commandsWaitForTheLog } from './commands-wait-for-the-log.ts';
import { commandsRefusedOnceEventsDbReplaced, eventsDbPathOf, positionsGivenOutNotedBy, watchEventsDb } from './events-db-replaced.ts';
import type { Credence, OpenOptions, Security } from './credence.ts';
import { OpenedWhileWiring } from './opened-while-wiring.ts';
import { IssuedJournal } from './pki-issued.ts';
import { systemProjections } from './projections.ts';
import { markedKeyShredder } from './keys-shredded-again.ts';
import { refuseLogKeyOutsideHsm } from './transparency-key.ts';
import { refuseNewPseudonymKeyForPseudonymsGivenOut, refuseNewPseudonymKeyForPseudonymsGivenOutInFolder, registeredPseudonymKey } from './registered-pseudonym-key.ts';
import { witnessedTransparencyProjection } from './witnessed-projection.ts';

export type { Credence, OpenOptions, Security } from './credence.ts';

/** The Enrolment Function's certificate issuance from the `pki` option (issue 13). */
const certificateIssuance = (pki: NonNullable<NonNullable<OpenOptions['security']>['pki']>, journal: IssuedJournal) => {
  const { baseUrl } = pki;
  return {
    recordIssued: (issue: unknown) => journal.record(issue),
    issuingCa: (serviceParameters: { readonly m2mSubId?: string | undefined }) => issuingCaFor(pki.cas, serviceParameters.m2mSubId),
    baseUrl: typeof baseUrl === 'function' ? baseUrl : () => baseUrl,
    ...(pki.requireCsr !== undefined ? { requireCsr: pki.requireCsr } : {}),
  };
};

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
  // An actor the engine's path for the procedures would refuse on every command: said now, not by the first device.
  if (options.security !== undefined) assertInfrastructureActor(options.security.actor);
  // The one place the infrastructure's owner is named: every component below gets this view, never the owner. Bound
  // before anything is opened, so an environment that does not serve this owner (`unauthorised`) leaves nothing open.
  const infrastructureSe = options.security === undefined ? undefined : ownerView(options.security.se, options.security.owner ?? 'maf:infrastructure');
  // Before the folder is made: with an HSM, a log key file made there would sit outside it.
  if ('dir' in options.location && options.security !== undefined) refuseLogKeyOutsideHsm(options.location.dir, options.security.se, options.transparencySigner);
  // Before the store opens: a log key whose log was moved aside without it would sign a new log, and a store missing
  // from a folder built from its events would be made afresh, an empty fleet (review 84).
  if ('dir' in options.location) {
    refuseLogKeyWithoutItsLog(options.location.dir);
    const setting = options.connectionString === undefined ? 'location.dir' : 'connectionString';
    if (options.store === undefined) refuseNewEventStoreForAServedFolder(options.location.dir, options.connectionString, setting);
    // Before any file is opened or made here (review 313), for a program as for the service, which checked before its
    // Secure Environment: a store passed in is checked once opened (wire).
    if (options.store === undefined && options.security !== undefined && options.pseudonyms?.key === undefined) {
      refuseNewPseudonymKeyForPseudonymsGivenOutInFolder(options.location.dir, options.connectionString);
    }
  }
  // There is no log to hold to it in memory: a witness named there would hold nothing, silently.
  if ('memory' in options.location && options.checkpointWitness !== undefined) {
    throw validationError([{ path: 'checkpointWitness', rule: 'needs_a_data_folder', message: 'holds a data folder\'s transparency log to its latest checkpoint: give location.dir, or leave it out' }], 'options');
  }
  // Created 0700, and refused when group or others may write to it, before any file is opened in it.
  if ('dir' in options.location) preparePrivateDir(options.location.dir);
  const opened = new OpenedWhileWiring();
  try {
    return wire(options, infrastructureSe, opened);
  } catch (error) {
    opened.closeAll();
    throw error;
  }
};

/**
 * `rememberFirstEvent` of the data folder `dir` for the embedded store's file `eventsDb`, tried once now (a folder
 * whose log has events adopts its first) and then by every outcome until it is remembered. A failed write refuses
 * nothing: it is tried again.
 */
const rememberFirstEventOf = (dir: string, eventsDb: string): (() => boolean) | undefined => {
  const remember = (): boolean => rememberFirstEvent(dir, eventsDb);
  try {
    if (remember()) return undefined;
  } catch {
    // Tried again by the first outcome.
  }
  return remember;
};

/** Everything after the checks that open nothing; each file it opens is added to `opened`, to be closed on a refusal. */
const wire = (options: OpenOptions, infrastructureSe: OwnedSecureEnvironment | undefined, opened: OpenedWhileWiring): Credence => {
  const durability = options.durability !== undefined ? { durability: options.durability } : {};
  // A store passed in stays the caller's to close until openCredence returns.
  const store =
    options.store ??
    opened.add(
      options.connectionString !== undefined
        ? openStore(options.connectionString, durability)
        : 'memory' in options.location
          ? openSqliteStore({ memory: true, ...durability })
          : openSqliteStoreInDir(options.location.dir, durability),
      (s) => s.close(),
    );
  // Right after it opened: the file the store holds, which the path is held to, and its head to the positions the
  // engine gave out (events-db-replaced.ts).
  const eventsDbPath = options.store === undefined ? eventsDbPathOf(options.location, options.connectionString) : undefined;
  const eventsDb = eventsDbPath === undefined ? undefined : watchEventsDb(eventsDbPath, () => store.headPosition());
  const logSigner = options.transparencySigner !== undefined ? { signer: options.transparencySigner } : {};
  const log = 'dir' in options.location ? opened.add(openTransparencyInDir(options.location.dir, logSigner), (l) => l.log.close()) : undefined;
  const transparency =
    log === undefined
      ? undefined
      : witnessedTransparencyProjection(
          { store, log: log.log, signer: log.signer, origin: log.origin, now: () => options.clock.now() },
          (options.location as { dir: string }).dir,
          options.checkpointWitness,
        );
  const readModels = opened.add(openReadModels(options.location), (db) => db.close());
  // Opening it moves a registry an earlier version kept in readmodels.db into keys.db.
  const registry = options.security === undefined ? undefined : opened.add(SqliteKeyRegistry.open(options.location, { legacy: readModels }), (r) => r.close());
  // With a Secure Environment and no key given, the pseudonym PRF key is made there on first use and its
  // handle kept in the key registry, so pseudonyms stay stable across restarts (seed 004; SER-011). Never while the
  // log holds pseudonyms: a keys.db without the key (deleted, or older than it) refuses the start (review 208).
  const ownKey = options.pseudonyms?.key === undefined && infrastructureSe !== undefined && registry !== undefined;
  if (ownKey) refuseNewPseudonymKeyForPseudonymsGivenOut(store, readModels, registry);
  const pseudonymKey =
    options.pseudonyms?.key ?? (ownKey ? registeredPseudonymKey(infrastructureSe, registry, store, () => options.clock.now()) : undefined);
  const deriver = pseudonymKey === undefined ? undefined : new PseudonymDeriver(pseudonymKey);
  const commands = createEngine({
    store,
    clock: options.clock,
    ...(options.entityCacheMaxBytes !== undefined ? { cacheMaxBytes: options.entityCacheMaxBytes } : {}),
    ...(options.signing !== undefined ? { verifyRequest: requestVerifier(options.signing) } : {}),
    // Values only an adapter can check: a rotation's pseudonym is the key's derivation, and a certificate said to be of
    // one of the CAs is signed by it (without CAs configured, a library instance has nothing to check it against).
    checks: [
      commandsRefusedOnceEventsDbReplaced(eventsDb),
      commandsWaitForTheLog(transparency),
      ...(deriver !== undefined ? [rotationIsDerived(deriver)] : []),
      ...(options.security?.pki !== undefined ? [issuedByOurCa(options.security.pki.cas)] : []),
    ],
  });
  // Every command's outcome: the positions given out, which the store's head is held to (events-db-replaced.ts).
  // And the first event of the folder's log, remembered in the data folder once there is one (review 264 #3): a start
  // on an events.db that begins with another is refused (first-event-of-the-folder.ts). A folder from before it adopts
  // its events.db's first event now.
  const remember = eventsDbPath === undefined || !('dir' in options.location) ? undefined : rememberFirstEventOf(options.location.dir, eventsDbPath);
  const engine = firstEventRememberedBy(positionsGivenOutNotedBy(commands, eventsDb), remember);
  const pseudonyms =
    deriver === undefined
      ? undefined
      : pseudonymRotation({
          engine,
          deriver,
          ...(options.pseudonyms?.policy ? { policy: options.pseudonyms.policy } : {}),
          // Beside the key's binding: an events.db restored from a backup does not take back the epochs given out.
          ...(registry !== undefined ? { epochMarks: registry } : {}),
        });
  // Its mark kept in keys.db: a keys.db put back from a backup is gone over again from its own (review 198).
  const shredder =
    infrastructureSe === undefined || registry === undefined
      ? undefined
      : markedKeyShredder(keyShredder(infrastructureSe, registry, () => options.clock.now()), registry, { store, readModels });
  // SER-012 across restarts (issue 11 item 10): by default `replay-cache.db` in the data folder, memory only in memory.
  let ownReplayCache: ReturnType<typeof openReplayCache> | undefined;
  /** The security procedures once opened: what the ticks sweep (`sweepExpiredRuns`), never opened by a tick. */
  let infrastructureOpened: Infrastructure | undefined;
  const sweepExpiredRuns = async (): Promise<number> => (await infrastructureOpened?.sweepExpiredRuns()) ?? 0;
  const openSecurity = async (s: NonNullable<OpenOptions['security']>, se: OwnedSecureEnvironment, keys: KeyRegistry): Promise<Security> => {
    const infrastructure = await Infrastructure.open({
      engine, se, registry: keys, random: s.random, actor: s.actor,
      replayCache: s.replayCache ?? (ownReplayCache ??= withPrivateUmask(() => openReplayCache(options.location))),
      ...(s.trustAnchors !== undefined ? { trustAnchors: s.trustAnchors } : {}),
      ...(s.pki !== undefined
        ? { certificates: certificateIssuance(s.pki, new IssuedJournal('dir' in options.location ? options.location.dir : undefined, () => options.clock.now())) }
        : {}),
      ...(s.runsPerInitiator !== undefined ? { runsPerInitiator: s.runsPerInitiator } : {}),
      ...(s.maxSessions !== undefined ? { maxSessions: s.maxSessions } : {}),
    });
    infrastructureOpened = infrastructure;
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
    reactionsAtOnce: reactionsAtOnceFor(store),
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
    eventsDb,
    transparencyLog: log === undefined ? undefined : { log: log.log, signer: log.signer, origin: log.origin },
    pseudonyms,
    shredder,
    pkiChanges,
    events$: (filter, deliveryOptions) => lifecycleEvents$(store, filter, deliveryOptions),
    waitForOtherWritersAtMost(ms) {
      // Not keys.db (review 117): a request writes it right after its events are stored (a provisioned key confirmed),
      // and refusing that write after 50 ms would fail a request whose events stand; it waits as a CLI does.
      const restore = [waitForOtherWritersAtMost([readModels], ms), ...(log === undefined ? [] : [log.log.waitForOtherWritersAtMost(ms)])];
      return () => restore.forEach((r) => r());
    },
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
      // Settled between deadlines due at different instants, so the cascade ends what it would have with the service up.
      const issued = await scheduler.tick({ reactionsHandled: settle });
      await pseudonyms?.tick();
      await settle();
      // The shredder's retries run even when the sweep failed (review 405 F2), then the sweep's failure is thrown
      // (with the retries' own, when they failed too).
      const swept = await sweepExpiredRuns().then(() => undefined, (error: unknown) => ({ error }));
      const retried = await Promise.resolve(shredder?.retryOwed()).then(() => undefined, (error: unknown) => ({ error }));
      // Both failing: one typed error when they failed alike, else an AggregateError, each message bounded (review 412 F2).
      throwFailures(
        [
          ...(swept === undefined ? [] : [{ what: 'the sweep of expired runs', error: swept.error }]),
          ...(retried === undefined ? [] : [{ what: "the shredder's retries", error: retried.error }]),
        ],
        "of the tick's closing steps failed (the sweep of expired runs and the shredder's retries), each run again at the next tick",
      );
      return issued;
    },
    sweepExpiredRuns,
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
        // So is one the log key refuses to sign (changed under the process): /readyz and the runtime said why.
        (error) => error instanceof TransparencyLogOfAnotherLog || error instanceof TransparencyLogForked || error instanceof TransparencyLogAltered,
      ),
  };
};
