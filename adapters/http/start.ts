import { setMaxListeners } from 'node:events';
import type { AddressInfo } from 'node:net';
import { assertCanListen } from './listen-check.ts';
import { assertCertifiableUrl } from './certifiable-url.ts';
import { warnIfCertificatesNameAnotherUrl } from './certificates-name-another-url.ts';
import { servingBegins } from './protection.ts';
import { assertPublishableHost, listeningUrl } from './public-url.ts';
import { plainHttpWarning } from './plain-http-warning.ts';
import type { Actor } from '../../domain/metadata.ts';
import { ownerView, type Clock } from '../../domain/ports/index.ts';
import { caAwaitingCertificateWarning } from '../../domain/x509/issuance/index.ts';
import {
  loadIssuingCas,
  lockDataFolder,
  openAccessRegistry,
  openCredence,
  openServiceSecureEnvironment,
  startLive,
  systemClock,
  systemRandom,
} from '../runtime/index.ts';
import { assertWitnessUsable, checkpointWitnessFile, witnessBegunWarning } from '../runtime/checkpoint-witness-file.ts';
import { isEmbedded } from '../runtime/data-folder.ts';
import { refuseKeysInTheFoldersEmbeddedSecureEnvironment } from '../runtime/folder-keys-in-embedded-secure-environment.ts';
import { refuseTokenHoldingNoneOfTheFolderKeys } from '../runtime/folder-keys-in-token.ts';
import { lockServedStoreFolder } from '../runtime/store-folder-lock.ts';
import { caInstants } from '../runtime/pki-ended-cas.ts';
import { shreddedAgainWarning, warnKeysHeldAgain } from '../runtime/keys-shredded-again.ts';
import { openSecureEnvironmentLogKey } from '../runtime/transparency-key.ts';
import { refuseNewPseudonymKeyForPseudonymsGivenOutInFolder } from '../runtime/registered-pseudonym-key.ts';
import { refuseEmptyEventStoreForAServedFolder, refuseNewEventStoreForAServedFolder } from '../runtime/event-store-of-a-served-folder.ts';
import { deadLetterCount } from '../../projections/cascade/index.ts';
import { expiryDeadLetterCount } from '../../projections/expiry/index.ts';
import { PKI_PROJECTION } from '../../projections/pki/index.ts';
import type { ProjectionLag } from '../../projections/runtime/index.ts';
import { createCleanups } from './cleanups.ts';
import { deadLetterWarnings } from './dead-letter-warnings.ts';
import { firstCatchUp } from './first-catch-up.ts';
import { logFailure } from './log-failure.ts';
import { createAccessControl } from './auth/access-control.ts';
import { refuseCurrentSigningKeyNotInToken } from './auth/current-signing-key-in-token.ts';
import { ACCESS_OWNER } from './auth/open-access-control.ts';
import { INFRASTRUCTURE_ACTOR_ID } from './auth/reserved-subjects.ts';
import type { ServiceConfig } from './service-config.ts';
import { signingPolicyOf } from './service-signing-policy.ts';
import type { App, RouteModule, ServiceContext } from './context.ts';
import { createServiceMetrics } from './metrics.ts';
import { refuseKeysInAnotherSecureEnvironment } from './keys-in-another-secure-environment.ts';
import { warnKeysDestroyedOfLiveEntities } from './keys-destroyed-of-live-entities.ts';
import { rotatePseudonymsPastMarks } from './pseudonyms-past-marks.ts';
import { buildProbeServer } from './probe-server.ts';
import { pkiFailingNow, startPkiPublisher } from './pki-publisher.ts';
import { warnReadModelRebuilds } from './read-model-rebuilds.ts';
import type { StartPhase } from './routes/health.ts';
import { secureEnvironmentReadiness } from './routes/secure-environment-readiness.ts';
import { buildServer } from './server.ts';
import { createShutdown } from './shutdown.ts';
import { StoppedBeforeServing } from './stopped-before-serving.ts';
import { warnMemoryBoundsAlreadyReached, warnPseudonymClassesUnseen } from './start-setting-warnings.ts';

/** Who the security procedures (Enrolment Function, Registrar CSE) act as when devices call them. */
export const INFRASTRUCTURE_ACTOR: Actor = { id: INFRASTRUCTURE_ACTOR_ID, role: 'operator' };

export interface StartOptions {
  /** The engine's and the tokens' clock (default: the system clock). */
  readonly clock?: Clock;
  /**
   * The monotonic clock the live expiry ticks check `clock` against (LiveOptions.monotonicNow; default
   * `performance.now()`): with a FakeClock advanced by hand, one that advances with it.
   */
  readonly monotonicNow?: () => number;
  /** Where the JSON log lines go (default stdout). */
  readonly logStream?: NodeJS.WritableStream;
  /** SIGTERM and SIGINT start the graceful shutdown, once; a second signal ends the process the default way. */
  readonly handleSignals?: boolean;
  /** Route modules registered after API v1's (tests add their own). */
  readonly routes?: readonly RouteModule[];
  /** The web console's bundle (default adapters/console/dist/; tests pass a folder of their own). */
  readonly consoleDist?: string;
  /** Where `config.store` came from (`flag --store`, `env CREDENCE_STORE`, `file F: store`), named when it is refused. */
  readonly storeSetting?: string;
}

export interface RunningService {
  /** `http://host:port`, the port the system gave when configured as 0. */
  readonly url: string;
  /** `http://host:port` of the probe listener (`probePort`), when configured. */
  readonly probeUrl?: string;
  readonly context: ServiceContext;
  readonly app: App;
  /**
   * Graceful shutdown: stops accepting, ends SSE streams with a retry hint, lets requests in flight finish, stops
   * the live runtime (flushing checkpoints), closes the stores and the Secure Environment. Idempotent.
   */
  close(): Promise<void>;
  /** Settles when the service has shut down, however it was asked to. */
  readonly closed: Promise<void>;
  /** Bound beyond loopback: that it speaks plain HTTP there (`plainHttpWarning`), said at warn too, for a banner. */
  readonly plainHttpWarning?: string;
}

/**
 * `credence serve`: reads the request-signing policy, opens the data folder (its Secure Environment, the store or the
 * store of `config.store`, the read models, access.db), starts everything live, and listens. Whatever was opened is
 * closed again when a later step fails, and a data folder the start made is removed again.
 */
export const startService = async (config: ServiceConfig, options: StartOptions = {}): Promise<RunningService> => {
  const clock = options.clock ?? systemClock;
  const cleanups = createCleanups();
  // Where the start is until it has finished, then undefined (review 422): the probes' /readyz and the API port's say
  // it (`catch_up`, then `starting`), and the API's port, bound before the start can no longer fail, serves nothing but
  // /healthz meanwhile (server.ts).
  let phase: StartPhase | undefined = 'catch_up';
  const startPhase = (): StartPhase | undefined => phase;
  let closeProbes: () => Promise<void> = async () => {};
  // server.close() first, then the PKI publisher, live.stop(), credence.close(), the registry, the Secure Environment.
  const stopping = createShutdown(async () => {
    // First to close: the probes say "not ready" by not answering once the shutdown has begun.
    await closeProbes().catch(() => undefined);
    await cleanups.unwind();
  });
  try {
    // Before anything opens: an unusable policy file is a configuration error, not a half-started service.
    const signingFile = signingPolicyOf(config);
    const signing = signingFile?.policy;
    // An embedded store kept in another folder has one writer at a time (review 174: a second service on another data
    // folder ran its cascade, expiry and rotation on the same events.db), `credence start` and `demo` as `serve`; before
    // the port, as the data folder's holder is named before it (serve). Let go after the store closes (pushed before
    // it, so unwound after); a folder this lock made is removed again unless the start wrote events there.
    // Where the store came from, when the caller knows it (serve, demo); else every place it may be set is named.
    const storeSetting = options.storeSetting ?? 'store';
    const storeLock = lockServedStoreFolder(config.data, config.store, storeSetting);
    if (storeLock !== undefined) cleanups.push(() => storeLock.letGo());
    await assertCanListen(config.host, config.port);
    if (config.probePort !== undefined && config.probePort !== 0) await assertCanListen(config.host, config.probePort);
    // Before the lock (it writes its holder file) and the embedded Secure Environment (made when absent): a folder
    // whose keys are in an HSM, opened without it, is refused as it is (review 49).
    refuseKeysInAnotherSecureEnvironment(config.data, config.secureEnvironment);
    // And the reverse: a folder whose keys are in its embedded Secure Environment, given a token (review 209).
    refuseKeysInTheFoldersEmbeddedSecureEnvironment(config.data, config.secureEnvironment);
    // Before a new log key or a new store is made: an events.db missing from a folder built from its events (review 84).
    // Each refusal names the one setting to change (f902 #1: they said `store` where serve knew it was CREDENCE_STORE).
    refuseNewEventStoreForAServedFolder(config.data, config.store, config.store === undefined ? 'data' : storeSetting);
    // And an external store that holds none of them (the setting pointed at a new server).
    await refuseEmptyEventStoreForAServedFolder(config.data, config.store, storeSetting);
    // Review 313: a keys.db without the pseudonym PRF key while the log holds pseudonyms (an events.db restored alone
    // into a new folder), refused from the folder's files before a token, the embedded Secure Environment (its KEK) or
    // the log key is opened or made: the start refused at open after making them, and what it made failed the remedy.
    refuseNewPseudonymKeyForPseudonymsGivenOutInFolder(config.data, config.store);
    // A witness kept in the folder holds the log to nothing its rewriter could not rewrite too (review 98).
    if (config.checkpointWitness !== undefined) assertWitnessUsable(config.checkpointWitness, config.data);
    // A token is opened before the lock (it writes nothing in the folder: a wrong PIN is refused before a folder is
    // made), and asked for the current signing key access.db names before anything is made or written (review 209: a
    // start refused for it had made a log key in the token, and log files in the folder, first).
    const keysInToken = !isEmbedded(config.secureEnvironment);
    const token = keysInToken ? openServiceSecureEnvironment(config.data, config.secureEnvironment, { now: () => clock.now() }) : undefined;
    if (token !== undefined) {
      cleanups.push(() => token.close());
      await refuseCurrentSigningKeyNotInToken(config.data, ownerView(token, ACCESS_OWNER));
      // Review 299: a folder restored without access.db and transparency.*, its keys.db's keys named, given another
      // token: the start made a log key and an access key there and wrote their files, and only then was refused (the
      // Enrolment Function key missing); the folder's own token was then refused for the access.db written. The check
      // `ca init` and `key *` make, before anything is made or written.
      await refuseTokenHoldingNoneOfTheFolderKeys(token, config.data, config.secureEnvironment);
    }
    // One service per data folder: a second would run a second cascade and sweep the first one's pending keys.
    const lock = lockDataFolder(config.data);
    // A start refused from here on removes a data folder it made: a refused serve leaves nothing behind; from one that
    // was there holding nothing of a data folder's (a volume made before the first start: review 373), it removes
    // what it added, so that the next start is not refused as a folder served before. Last to close
    // after every file in it (a token opened above closes after it). Kept instead once something outside the folder
    // may name what it holds (found in review): removing it would orphan that. An HSM, once open, holds the keys this
    // start makes (the token signing key, the pseudonym key), and the folder holds what names them (access.db, keys.db).
    let keep = keysInToken;
    cleanups.push(() => (keep ? lock.release() : lock.discard()));
    // The data folder's embedded Secure Environment (made when absent, so after the lock), or the token opened above.
    const se = token ?? openServiceSecureEnvironment(config.data, config.secureEnvironment, { now: () => clock.now() });
    if (token === undefined) cleanups.push(() => se.close());
    // Issuing CAs of the data folder (issue 13; `credence ca init`): the Enrolment Function certifies nodes' CSRs with
    // them, at the public URL (read at each issuance: with port 0 it becomes the port bound, below).
    const cas = await loadIssuingCas(config.data, ownerView(se, 'maf:infrastructure'));
    // Before anything is issued: certificates must not name a wildcard address as where their status is.
    assertPublishableHost(config.host, config.publicUrl, cas.length);
    let publicUrl = config.publicUrl ?? listeningUrl(config.host, config.port);
    assertCertifiableUrl(publicUrl, config.publicUrl !== undefined, cas.length);
    // The transparency log key is made and used in the Secure Environment, the embedded one too (review 53 item 2); a
    // folder that has its own key file keeps it (warned below when that is weaker than its other keys).
    const logKey = await openSecureEnvironmentLogKey(config.data, se);
    // The live runtime and the cascade report to the server's logger, which exists only once the server is built;
    // nothing runs a projection before `live.start()`, after that.
    let app: App | undefined;
    // Held as read: said at info once the logger exists, and at warn once if the file changes (takes effect at restart).
    if (signingFile !== undefined) cleanups.push(signingFile.watch(() => app?.log));
    const credence = openCredence({
      location: { dir: config.data },
      clock,
      ...(config.store !== undefined ? { connectionString: config.store } : {}),
      ...(config.durability !== undefined ? { durability: config.durability } : {}),
      entityCacheMaxBytes: config.entityCacheMiB * 1024 * 1024,
      // Seed 004: pseudonyms that change frequently; the key is the data folder's (made in its Secure Environment).
      pseudonyms: { policy: config.pseudonyms },
      ...deadLetterWarnings(() => app?.log),
      // SER-016: POST /v1/commands verifies request signatures against it; the audit trail re-checks stored ones.
      ...(signing !== undefined ? { signing } : {}),
      // The service is the process that holds the deployment's policy (or its absence): an audit trail judged under
      // another is rebuilt from position 0 under it before it serves, and said at warn below (checkRules).
      onReadModelRulesChanged: 'rebuild',
      ...(logKey.place === 'hsm' ? { transparencySigner: logKey.signer } : {}),
      ...(config.checkpointWitness !== undefined ? { checkpointWitness: checkpointWitnessFile(config.checkpointWitness) } : {}),
      security: {
        se,
        random: systemRandom,
        actor: INFRASTRUCTURE_ACTOR,
        pki: { cas, baseUrl: () => publicUrl },
        runsPerInitiator: config.limits.protocolRunsPerDevice,
        maxSessions: config.limits.maxPendingDeviceSessions,
      },
    });
    cleanups.push(() => credence.close());
    const registry = openAccessRegistry({ dir: config.data });
    cleanups.push(() => registry.close());
    const access = await createAccessControl({ se: ownerView(se, ACCESS_OWNER), registry, clock, random: systemRandom, ...config.tokens, keysInToken });

    // What the rebuild warnings below count, for the live start not to count it again.
    let counted: readonly ProjectionLag[] = [];
    // Started after listen (below); the live runtime reads it as it is.
    const pkiRevocation: NonNullable<ServiceContext['pkiRevocation']> = { current: undefined };
    const live = startLive(credence, {
      tickMs: config.tickMs,
      ...(options.monotonicNow !== undefined ? { monotonicNow: options.monotonicNow } : {}),
      counted: () => counted,
      onError: (component, error) => {
        if (app !== undefined) logFailure(app.log, error, 'live component failed', { component });
      },
      // Review 332: the pki component showed healthy while its CRLs could not be signed (a CA key deleted from the
      // Secure Environment): failing now, in GET /v1/projections and credence_component_failing, until one is signed.
      ...(cas.length > 0 ? { outside: [{ component: PKI_PROJECTION, failing: () => pkiFailingNow(cas, pkiRevocation.current) }] } : {}),
    });
    cleanups.push(() => live.stop());
    const { shredder } = credence;
    const metrics = createServiceMetrics({
      components: () => live.status(),
      failing: () => live.failing?.() ?? [],
      entityCache: () => credence.engine.cacheStats(),
      ...(shredder !== undefined ? { keysOwed: () => shredder.owed().length } : {}),
      deadLetters: () => deadLetterCount(credence.readModels),
      expiryDeadLetters: () => expiryDeadLetterCount(credence.readModels),
      ...(cas.length > 0
        ? { caChainEnds: () => cas.map((ca) => ({ caId: ca.id, ...caInstants(ca) })) }
        : {}),
    });
    const shutdown = new AbortController();
    // Every open SSE stream listens for the shutdown (and stops listening when it ends, adapters/http/sse/session.ts):
    // many listeners are the normal case, not a leak, so no MaxListenersExceededWarning past 10 streams.
    setMaxListeners(0, shutdown.signal);
    const pki = { cas, get baseUrl() { return publicUrl; } };
    const seReadiness = secureEnvironmentReadiness(se);
    const context: ServiceContext = {
      credence,
      live,
      access,
      metrics,
      limits: config.limits,
      shutdown: shutdown.signal,
      pkiRevocation,
      pki,
      ...(seReadiness !== undefined ? { secureEnvironmentUnavailable: seReadiness } : {}),
    };
    app = await buildServer({
      context,
      config,
      ...(options.logStream !== undefined ? { logStream: options.logStream } : {}),
      ...(options.routes !== undefined ? { routes: options.routes } : {}),
      ...(options.consoleDist !== undefined ? { consoleDist: options.consoleDist } : {}),
      startPhase,
    });
    const server = app;
    if (logKey.place === 'folder' && logKey.warning !== undefined) server.log.warn({ logKey: 'data folder' }, logKey.warning);
    if (se.openingWarning !== undefined) server.log.warn({ secureEnvironment: keysInToken ? 'pkcs11' : 'embedded' }, se.openingWarning);
    // Review 287: a CA awaiting `ca install` certifies nothing, and its subscription's nodes' CSRs are refused meanwhile;
    // the subscription it names when it names one (review 355: the warning named its id as the subscription).
    for (const caId of cas.awaitingCertificate) {
      const subscription = cas.awaitingSubscriptions.get(caId);
      server.log.warn({ caId, ...(subscription !== undefined ? { subscription } : {}) }, caAwaitingCertificateWarning(caId, subscription));
    }
    // Nothing tells a first start with the setting from a copy deleted since: the log was taken as it was found.
    const begun = credence.transparency?.witnessBegun;
    if (begun !== undefined && config.checkpointWitness !== undefined) server.log.warn({ checkpointWitness: config.checkpointWitness, leaves: begun }, witnessBegunWarning(begun));
    if (lock.removedStrays.length > 0) {
      // Those beside a KEK kept outside the folder (CREDENCE_KEK_FILE) are among them, by full path.
      server.log.info({ removed: lock.removedStrays }, 'removed the temp files interrupted writes had left in the data folder or beside its KEK file');
    }
    // Before in-flight requests are awaited: SSE streams end (with a retry hint) instead of holding the close.
    server.addHook('preClose', async () => shutdown.abort());
    // The PKI publisher starts after listen (it needs the URL bound) but must stop after server.close() has drained
    // the requests in flight: a CRL or OCSP request being answered still reads through it.
    let stopPkiRevocation: () => unknown = () => {};
    cleanups.push(() => stopPkiRevocation());
    cleanups.push(() => server.close());

    // Before the probe port and the catch-up (review 52): a rebuild reads the whole log before the API listens, and a
    // signal meanwhile took Node's default action (exit 143, nothing closed, no "shutting down"). It now stops the live
    // runtime and unwinds as a shutdown does, and the start rejects with StoppedBeforeServing.
    if (options.handleSignals === true) stopping.handleSignals(server.log);

    // The probe port listens before the catch-up (review 51): a rebuild after an upgrade reads the whole log before
    // the API port listens, long enough on a large fleet for an orchestrator whose liveness probe finds nothing to kill
    // the process mid-rebuild, and start it over. /healthz answers meanwhile; /readyz is 503 `catch_up` until the
    // catch-up ends (an answer of the API is never read from a half-built read model: it does not listen yet), then
    // `starting` until the start has finished (review 422: the API's port is bound then, and answers only that).
    let probeUrl: string | undefined;
    if (config.probePort !== undefined) {
      const probes = await buildProbeServer({
        context,
        config,
        startPhase,
        ...(options.logStream !== undefined ? { logStream: options.logStream } : {}),
      });
      let probesClosed: Promise<void> | undefined;
      closeProbes = () => (probesClosed ??= probes.close());
      cleanups.push(() => closeProbes());
      await probes.listen({ host: config.host, port: config.probePort });
      // A shutdown begun while they were made closed nothing of theirs yet.
      if (stopping.begun) await closeProbes();
      await stopping.unlessStopped();
      const probeAddress = probes.server.address() as AddressInfo;
      probeUrl = listeningUrl(probeAddress.address, probeAddress.port);
      server.log.info({ probeUrl }, 'probes listening; the API listens once caught up with the event store');
    }
    // Said by the server's logger, so after startLive (the server's context holds the runtime): `live.start()` reads
    // each checkpoint again, so a read model these checks reset is counted and reported behind until its rebuild has
    // read it.
    counted = await warnReadModelRebuilds(credence.runner, server.log);
    // An external store, once the live runtime runs, holds events derived with the folder's keys (a pseudonym of the
    // folder's pseudonym key): the folder stays with them. Only once the store has answered (review 173): one that
    // never did holds nothing of this start, and a folder kept then is refused later as served (events.db missing).
    if (config.store !== undefined) {
      await credence.store.headPosition();
      keep = true;
    }
    await stopping.unlessStopped();
    await firstCatchUp(live, credence, server.log);
    phase = 'starting';
    // The keys the live start destroyed again: a keys.db put back from a backup held them in use (review 198).
    const again = credence.shredder?.shreddedAgain;
    if (again !== undefined) server.log.warn({ keysDestroyedAgain: again.keys, entities: again.entities, through: again.through.toString(10) }, shreddedAgainWarning(again));
    if (!keysInToken) await warnKeysHeldAgain({ dataDir: config.data, se: ownerView(se, 'maf:infrastructure'), log: server.log });
    await stopping.unlessStopped();
    // Once the entities read model has read the log (a restore rebuilds it): keys.db outlives an events.db put back
    // from a backup, and a revocation since that backup is gone from the log while its keys stay destroyed (review 131).
    // Owed until a start finds none on the log the read models follow (review 137): a start after a clean one reads
    // one record, not the key registry (one read-model lookup per ended entity with keys).
    await warnKeysDestroyedOfLiveEntities({ dataDir: config.data, credence, log: server.log }).catch(
      // A warning's check refuses no start; one a shutdown cut short (the store closed under it) is that shutdown.
      (error: unknown) => {
        if (!stopping.begun) logFailure(server.log, error, 'the key registry could not be checked against the event log');
      },
    );
    await stopping.unlessStopped();
    // Before the API listens: an operator's rotation would otherwise give out again a pseudonym the restore lost.
    // A failure refuses no start: the first tick and the first demand run the same pass again before they rotate.
    await rotatePseudonymsPastMarks({ credence, log: server.log }).catch((error: unknown) => {
      if (!stopping.begun) logFailure(server.log, error, 'pseudonyms could not be rotated past the epochs keys.db records as given out');
    });
    await stopping.unlessStopped();
    // Once the directory has read the log (review 434, L5): a configured class no registered node has, a misspelt one
    // most likely, whose nodes keep the default rotation. A warning's check refuses no start.
    try {
      warnPseudonymClassesUnseen(credence.readModels, config.pseudonyms.classes, server.log);
    } catch (error) {
      if (!stopping.begun) logFailure(server.log, error, 'the configured pseudonym classes could not be checked against the registered nodes');
    }
    // Fastify's own line at listen would read "Server listening at …" before the checks of the bound address and the
    // PKI publisher's start, any of which can still refuse the start (review 231: a damaged CRL number file logged it,
    // then exited 1). It says the port is bound; `listening` below says the service is. Until then the port answers
    // nothing but /healthz, and /readyz 503 `starting` (review 422: it said ready, and served, while the start could
    // still fail). Not the publisher first: with no publicUrl its CRLs name the address bound, known only now.
    await server.listen({ host: config.host, port: config.port, listenTextResolver: (address) => `bound at ${address}; starting the PKI publisher ('listening' follows)` });
    const address = server.server.address() as AddressInfo;
    const boundUrl = listeningUrl(address.address, address.port);
    // Again on the address bound: a host name can resolve to a wildcard address.
    assertPublishableHost(address.address, config.publicUrl, cas.length);
    if (config.publicUrl === undefined) {
      assertCertifiableUrl(boundUrl, false, cas.length);
      publicUrl = boundUrl;
    }
    await warnIfCertificatesNameAnotherUrl({ credence, cas, publicUrl, log: server.log });
    // CRLs and OCSP of the data folder's issuing CAs (issue 13), once the URL their full CRLs name is known.
    const revocation = await startPkiPublisher({
      credence,
      cas,
      baseUrl: publicUrl,
      dataDir: config.data,
      se: ownerView(se, 'maf:infrastructure'),
      clock,
      log: server.log,
    });
    pkiRevocation.current = revocation;
    stopPkiRevocation = () => revocation.stop();
    // A shutdown begun while it started has already run the cleanups: this one is left to stop here.
    if (stopping.begun) await revocation.stop();
    await stopping.unlessStopped();

    servingBegins(server, config.limits);
    // Review 434 (L4): a memory bound the process already passes (a unit slip) sheds every request from the first.
    warnMemoryBoundsAlreadyReached(config.limits, server.log);
    const plainHttp = plainHttpWarning(boundUrl, address.address, config.publicUrl);
    if (plainHttp !== undefined) server.log.warn({ url: boundUrl, ...(config.publicUrl !== undefined ? { publicUrl: config.publicUrl } : {}) }, plainHttp);
    server.log.info({ url: boundUrl, ...(probeUrl !== undefined ? { probeUrl } : {}) }, 'listening');
    keep = true;
    phase = undefined;
    return {
      url: boundUrl,
      ...(probeUrl !== undefined ? { probeUrl } : {}),
      context,
      app: server,
      close: stopping.close,
      closed: stopping.closed,
      ...(plainHttp !== undefined ? { plainHttpWarning: plainHttp } : {}),
    };
  } catch (error) {
    stopping.removeSignalHandlers();
    await cleanups.unwind();
    // What failed because the shutdown closed it under the start (a read of a closed store) is that shutdown.
    if (stopping.begun && !(error instanceof StoppedBeforeServing)) await stopping.unlessStopped();
    throw error;
  }
};
