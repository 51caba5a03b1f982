import type { CredenceError } from '../../domain/errors.ts';
import type { OwnedSecureEnvironment, RandomSource } from '../../domain/ports/index.ts';
import { pkiUrls, type CaId, type IssuingCa } from '../../domain/x509/issuing-ca.ts';
import { revocationIssuer } from '../../domain/x509/revocation/index.ts';
import { certificatesOfAnotherKey, certificateStanding } from '../../projections/pki/index.ts';
import { fileCrlBase, memoryCrlBase } from '../driven/pki/crl-base.ts';
import { fileCrlExpiryMarks, memoryCrlExpiryMarks } from '../driven/pki/crl-expiry-marks.ts';
import { fileCrlNumbers, memoryCrlNumbers } from '../driven/pki/crl-numbers.ts';
import { filePublishedRevocations, memoryPublishedRevocations, type PublishedRevocation } from '../driven/pki/published-revocations.ts';
import { loadIssuingCas } from '../driven/pki/index.ts';
/** Why a loaded CA's key cannot sign now (GET /readyz, review 332): for the service, which reaches driven adapters here. */
export { caSigningKeyMissingNow } from '../driven/pki/index.ts';
import { OcspSigningKey, type OcspResponderCredential } from '../driven/pki/ocsp-signing-key.ts';
import type { Credence } from './credence.ts';
import { openCommittedReadModel, type CommittedReadModel } from './pki-committed.ts';
import { pkiStartFloor, readCompletePki, refuseAnotherLog } from './pki-complete.ts';
import { CrlPublisher } from './pki-crl-publisher.ts';
import { DEFAULT_CREDENTIAL_LIFETIME_MS, EndedCas, type CaEnding } from './pki-ended-cas.ts';
import { OcspResponder } from './pki-ocsp-responder.ts';
import { OverduePkiEvents } from './pki-overdue.ts';
import { PublishedLedger, type FailuresEnded } from './pki-published.ts';
import { issuedNotInLog, type IssuedCertificate } from './pki-issued.ts';
import { wallClockTrustedFor } from './wall-clock-guard.ts';

export interface PkiRevocationOptions {
  /** With `runner`, its read models are checked against the log (ProjectionRunner.checkLog) before anything is read. */
  readonly credence: Pick<Credence, 'store' | 'readModels' | 'pkiChanges'> & Partial<Pick<Credence, 'runner'>>;
  /** The issuing CAs; default: those of `dataDir` (loadIssuingCas), none without one. */
  readonly cas?: readonly IssuingCa[];
  /** The service's public URL (pkiUrls): where full CRLs point for their deltas. */
  readonly baseUrl: string;
  /** The data folder: CRL numbers, expiry marks, published revocations and OCSP signer files under `<data>/pki/`; absent: in memory. */
  readonly dataDir?: string;
  /** The infrastructure's Secure Environment: the OCSP signing keys are generated and kept there. */
  readonly se: OwnedSecureEnvironment;
  readonly random: RandomSource;
  readonly now: () => number;
  /** nextUpdate - thisUpdate of complete CRLs (default 24 h) and of delta CRLs (default 1 h): pki-crl-publisher.ts. */
  readonly crlValidityMs?: number;
  readonly deltaCrlValidityMs?: number;
  readonly ocspValidityMs?: number;
  readonly ocspSignerValidityMs?: number;
  /** How often CRLs and OCSP signers are checked for re-issue (default 60 s). */
  readonly tickMs?: number;
  readonly coalesceMs?: number;
  readonly onError?: (component: string, error: unknown) => void;
  /**
   * A run of failures of CA `caId`'s component (`ocsp:<ca>`, `crl:<ca>`) that `onError` told once ended: what works
   * again and how many failures the run held.
   */
  readonly onRecovered?: (component: string, caId: CaId, ended: FailuresEnded) => void;
  /**
   * A CA published revocations the event log does not hold (restored from an older backup): they stay on its CRLs and
   * `revoked` on OCSP; these are the credentials to revoke again. Called on start and after each rebuild that finds some.
   */
  readonly onPublishedNotInLog?: (caId: CaId, revocations: readonly PublishedRevocation[]) => void;
  /**
   * A CA issued live certificates (not expired) that the event log holds no credential with, nor its CRLs list
   * (review 247): the log was restored from a backup older than their provisioning, so OCSP answers `unknown` for them
   * and no CRL can list them until each is recorded again (its journal line's `issue`, submitted as an
   * `issueCredential`) and revoked. `count` of them, the first 100 in `certificates`. Called at start, once per such CA.
   */
  readonly onIssuedNotInLog?: (caId: CaId, count: number, certificates: readonly IssuedCertificate[]) => void;
  /**
   * A CA's chain (its certificate or one above it) has ended: it is retired, not served (pki-ended-cas.ts). Called
   * once per CA, at start or at the tick that finds it ended.
   */
  readonly onCaEnded?: (caId: CaId, endedAt: Date) => void;
  /**
   * A live CA is within a month (`CA_END_WARNING_MS`) of the last instant it can certify a node credential of
   * `credentialLifetimeMs`: called once per CA, at start or at a tick.
   */
  readonly onCaEndingSoon?: (caId: CaId, ending: CaEnding) => void;
  /**
   * A CA holds, under its id, live certificates (neither revoked nor expired) another key signed: it was made again
   * under the same id (review 127). Its OCSP answers `unknown` for them and its CRLs leave them out; the credentials
   * are to be rotated (docs/pki.md, "A CA key is compromised"). Called once per CA at start, when the read model is
   * complete then.
   */
  readonly onCaKeyReplaced?: (caId: CaId, certificates: number) => void;
  /**
   * A CA's OCSP signer file (`path`) named a key the Secure Environment no longer holds (`handle`: a PKCS#11 token
   * destroyed it at a renewal after the backup the file was restored from): a new signer was issued in its place.
   * Called at start, once per such CA (review 133); `whileRunning`, when a signature met it gone while the service
   * ran (review 332: deleted from the token behind its back).
   */
  readonly onOcspSignerKeyGone?: (caId: CaId, path: string, handle: string, whileRunning: boolean) => void;
  /**
   * A CA's CRL base file (`path`) could not be read (damaged): moved aside to `movedTo`, its deltas take a new base
   * (review 157). Called at start, once per such file.
   */
  readonly onCrlBaseSetAside?: (caId: CaId, path: string, movedTo: string, why: string) => void;
  /** How long a remotely provisioned credential, and so its certificate, lasts (default a year, the Infrastructure's). */
  readonly credentialLifetimeMs?: number;
}

/** What the routes serve from: each CA's CRL publisher and OCSP responder. */
export interface PkiRevocation {
  /** Every issuing CA loaded, ended ones too: their certificates stay published. */
  readonly cas: readonly IssuingCa[];
  /** Undefined for a CA not served, and for one whose chain has ended (`ended`). */
  crl(caId: CaId): CrlPublisher | undefined;
  ocsp(caId: CaId): OcspResponder | undefined;
  /** When the chain of `caId`, a CA of `cas`, ended, if it has: it is retired, with no CRL nor OCSP responder. */
  ended(caId: string): Date | undefined;
  /** Re-issues what is due (CRLs past half their validity, OCSP signers past two thirds of theirs). */
  tick(): Promise<void>;
  /**
   * Why an OCSP responder key cannot sign now (GET /readyz): one a signature met missing from the Secure Environment
   * that no new signer has replaced yet (`ocsp_signing_key_missing`); undefined when none. No Secure Environment call
   * while every responder key signs. The CA keys are the loaded CAs' own to say (caSigningKeyMissingNow).
   */
  signingKeyMissing(): Promise<CredenceError | undefined>;
  stop(): void;
}

interface CaRevocation {
  readonly publisher: CrlPublisher;
  readonly responder: OcspResponder;
  readonly signingKey: OcspSigningKey;
}

/**
 * Starts CRL publishing and the OCSP responder of every issuing CA (issue 13), kept current by the `pki` projection:
 * a revocation it records drops the OCSP answers cached about that certificate at once and issues a delta CRL
 * within a few ms; a rebuild of the read model re-reads everything. A timer (unref'd: it never keeps a process
 * alive) re-issues CRLs before their nextUpdate and renews OCSP signing certificates before they expire.
 */
export const startPkiRevocation = async (o: PkiRevocationOptions): Promise<PkiRevocation> => {
  const report = (component: string, error: unknown): void => {
    try {
      o.onError?.(component, error);
    } catch {
      // The sink must not take the publisher down.
    }
  };
  const cas = o.cas ?? (o.dataDir !== undefined ? await loadIssuingCas(o.dataDir, o.se) : []);
  const byCa = new Map<string, CaRevocation>();
  /** Each CA's published revocations: a certificate on its CRLs needs no recording again to be revoked. */
  const ledgers = new Map<string, PublishedLedger>();
  // A pki read model of another log (an event store restored from an older backup) is reset by its runner first:
  // its tables hold revocations the log does not, and its checkpoint a position the log may never reach.
  await o.credence.runner?.checkLog();
  await refuseAnotherLog(o.credence.store, o.credence.readModels);
  // While the service runs, the `pki` events the read model should have projected by now (review 110): a stuck
  // projection answers `tryLater` and keeps the CRLs issued before, never `good` for a certificate revoked meanwhile.
  const overdue = new OverduePkiEvents({
    store: o.credence.store,
    readModels: o.credence.readModels,
    // Elapsed time, not the clock the service signs with (a test's, set back or ahead): how long a projection waits.
    now: () => performance.now(),
    onStuck: () => {
      for (const it of byCa.values()) it.responder.clear();
    },
    onError: (error) => report('pki-overdue', error),
  });
  // Followed before the log is read for the start floor: a `pki` event appended in between is in one or the other
  // (review 111: one appended while the publishers started was in neither).
  overdue.start();
  // Read before the publishers start: a read model behind the log now is signed from only once it has caught up.
  const startFloor = await pkiStartFloor(o.credence.store, o.credence.readModels).catch(async (error: unknown) => {
    await overdue.stop();
    throw error;
  });
  const floor = {
    mustReach: (): bigint | undefined => {
      const stuck = overdue.floor();
      return stuck === undefined || (startFloor !== undefined && startFloor > stuck) ? startFloor : stuck;
    },
  };
  const reads: CommittedReadModel = openCommittedReadModel(o.credence.readModels);
  const ended = new EndedCas(
    cas,
    o.onCaEnded,
    o.onCaEndingSoon === undefined
      ? undefined
      : { credentialLifetimeMs: o.credentialLifetimeMs ?? DEFAULT_CREDENTIAL_LIFETIME_MS, onEndingSoon: o.onCaEndingSoon },
  );
  try {
    for (const ca of cas) {
      // Review 82: an ended CA made OcspSigningKey.open throw, and so stopped every start of the whole service.
      if (ended.retireIfEnded(ca.id, o.now())) continue;
      ended.warnIfEndingSoon(ca.id, o.now());
      const signingKey = await OcspSigningKey.open({
        se: o.se,
        ca,
        random: o.random,
        now: o.now,
        ...(o.dataDir !== undefined ? { dataDir: o.dataDir } : {}),
        ...(o.ocspSignerValidityMs !== undefined ? { validityMs: o.ocspSignerValidityMs } : {}),
        onKeyGone: (path, handle, whileRunning) => o.onOcspSignerKeyGone?.(ca.id, path, handle, whileRunning),
      });
      const published = new PublishedLedger(o.dataDir !== undefined ? filePublishedRevocations(o.dataDir, ca.id) : memoryPublishedRevocations());
      ledgers.set(ca.id, published);
      const publisher = new CrlPublisher({
        reads,
        published,
        // What the sink throws, the publisher reports (onError, below).
        onPublishedNotInLog: (revocations) => o.onPublishedNotInLog?.(ca.id, revocations),
        ...floor,
        ca,
        urls: pkiUrls(o.baseUrl, ca.id),
        numbers: o.dataDir !== undefined ? fileCrlNumbers(o.dataDir, ca.id, o.now) : memoryCrlNumbers(o.now),
        marks: o.dataDir !== undefined ? fileCrlExpiryMarks(o.dataDir, ca.id) : memoryCrlExpiryMarks(),
        base:
          o.dataDir !== undefined
            ? fileCrlBase(o.dataDir, ca.id, (path, movedTo, why) => o.onCrlBaseSetAside?.(ca.id, path, movedTo, why))
            : memoryCrlBase(),
        now: o.now,
        // The verdict of the guard that holds the expiry lane (live.ts), on the service's clock, which `now` reads too.
        clockTrusted: () => wallClockTrustedFor(o.credence),
        ...(o.crlValidityMs !== undefined ? { validityMs: o.crlValidityMs } : {}),
        ...(o.deltaCrlValidityMs !== undefined ? { deltaValidityMs: o.deltaCrlValidityMs } : {}),
        ...(o.coalesceMs !== undefined ? { coalesceMs: o.coalesceMs } : {}),
        onError: (error) => report(`crl:${ca.id}`, error),
        onRecovered: (ended) => o.onRecovered?.(`crl:${ca.id}`, ca.id, ended),
      });
      const responder = new OcspResponder({
        reads,
        published,
        ...floor,
        ca,
        credential: (): OcspResponderCredential => signingKey.current,
        now: o.now,
        ...(o.ocspValidityMs !== undefined ? { validityMs: o.ocspValidityMs } : {}),
        onError: (error) => report(`ocsp:${ca.id}`, error),
        onRecovered: (ended) => o.onRecovered?.(`ocsp:${ca.id}`, ca.id, ended),
      });
      byCa.set(ca.id, { publisher, responder, signingKey });
    }
  } catch (error) {
    reads.close();
    await overdue.stop();
    throw error;
  }
  const unsubscribe = o.credence.pkiChanges.subscribe({
    revoked({ caId, serialNumber }) {
      // Ended since the last tick: nothing more is signed under it (the tick retires it).
      const it = ended.endedAt(caId, o.now()) === undefined ? byCa.get(caId) : undefined;
      it?.responder.invalidate(serialNumber);
      it?.publisher.notify();
    },
    rotationChanged({ caId, serialNumber }) {
      // Its cached answers end at the wrong time: read again (a good ends no later than the overlap's end).
      byCa.get(caId)?.responder.invalidate(serialNumber);
    },
    reset() {
      for (const it of byCa.values()) {
        it.responder.clear();
        it.publisher.reset();
      }
    },
  });
  try {
    for (const it of byCa.values()) await it.publisher.start();
  } catch (error) {
    unsubscribe();
    reads.close();
    await overdue.stop();
    throw error;
  }

  if (o.onCaKeyReplaced !== undefined) {
    for (const caId of byCa.keys()) {
      const ca = cas.find((c) => c.id === caId)!;
      const keyId = Buffer.from(revocationIssuer(ca.certificate).keyIdentifier).toString('hex');
      const read = await readCompletePki(reads, floor.mustReach, (db) => certificatesOfAnotherKey(db, caId, keyId, new Date(o.now()).toISOString())).catch(
        (error: unknown) => {
          report(`ocsp:${caId}`, error);
          return undefined;
        },
      );
      if (read?.ok === true && read.value > 0) {
        try {
          o.onCaKeyReplaced(caId as CaId, read.value);
        } catch (error) {
          report(`ocsp:${caId}`, error);
        }
      }
    }
  }

  // Certificates issued since the backup an events.db was restored from (review 247): named once, at the start, or at
  // the first tick that finds the read model whole (a restored log's is rebuilt after the start).
  const issuedUnchecked = new Set<string>(o.onIssuedNotInLog !== undefined && o.dataDir !== undefined ? byCa.keys() : []);
  const checkIssued = async (caId: string): Promise<void> => {
    const { dataDir, onIssuedNotInLog } = o;
    if (!issuedUnchecked.has(caId) || dataDir === undefined || onIssuedNotInLog === undefined) return;
    const ca = cas.find((c) => c.id === caId)!;
    const keyId = Buffer.from(revocationIssuer(ca.certificate).keyIdentifier).toString('hex');
    const ledger = ledgers.get(caId);
    const read = await readCompletePki(reads, floor.mustReach, (db) =>
      issuedNotInLog(
        dataDir,
        caId as CaId,
        o.now(),
        (serial) => {
          // A certificate another key signed under this id is the replaced key's (onCaKeyReplaced says it).
          const standing = certificateStanding(db, caId, serial, keyId);
          return standing.status !== 'unknown' || standing.anotherKey === true;
        },
        (serial) => ledger?.get(serial) !== undefined,
      ),
    ).catch((error: unknown) => {
      // Not again at every tick: a journal that does not parse is told once.
      issuedUnchecked.delete(caId);
      report(`crl:${caId}`, error);
      return undefined;
    });
    if (read?.ok !== true) return;
    issuedUnchecked.delete(caId);
    if (read.value.count === 0) return;
    try {
      onIssuedNotInLog(caId as CaId, read.value.count, read.value.named);
    } catch (error) {
      report(`crl:${caId}`, error);
    }
  };
  for (const caId of byCa.keys()) await checkIssued(caId);

  let ticking: Promise<void> | undefined;
  const tick = (): Promise<void> =>
    (ticking ??= (async () => {
      for (const [caId, it] of byCa) {
        // Ended while running: nothing more is signed under it (its responder certificate ended with it).
        if (ended.retireIfEnded(caId as CaId, o.now())) {
          it.publisher.stop();
          it.responder.clear();
          byCa.delete(caId);
          continue;
        }
        ended.warnIfEndingSoon(caId as CaId, o.now());
        // Its failure is the publisher's to report (its queue reports every job's, a signature's once per run): told
        // here too, each tick logged it twice (review 332).
        await it.publisher.tick().catch(() => undefined);
        await checkIssued(caId);
        try {
          if (await it.signingKey.renewIfDue()) it.responder.clear();
        } catch (error) {
          report(`ocsp:${caId}`, error);
        }
      }
    })().finally(() => {
      ticking = undefined;
    }));
  const timer = setInterval(() => void tick(), o.tickMs ?? 60_000);
  timer.unref();

  return {
    cas,
    // Checked at each call, not only at the tick: between the end and the next tick nothing is signed under it either.
    crl: (caId) => (ended.endedAt(caId, o.now()) === undefined ? byCa.get(caId)?.publisher : undefined),
    ocsp: (caId) => (ended.endedAt(caId, o.now()) === undefined ? byCa.get(caId)?.responder : undefined),
    ended: (caId) => ended.endedAt(caId, o.now()),
    tick,
    async signingKeyMissing() {
      for (const it of byCa.values()) {
        const missing = await it.signingKey.missing();
        if (missing !== undefined) return missing;
      }
      return undefined;
    },
    stop() {
      clearInterval(timer);
      unsubscribe();
      overdue.stop().catch((error: unknown) => report('pki-overdue', error));
      for (const it of byCa.values()) it.publisher.stop();
      reads.close();
    },
  };
};
