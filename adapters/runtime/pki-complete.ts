import type Database from 'better-sqlite3';
import { eachRecord } from '../../domain/ports/each-record.ts';
import type { EventStore } from '../../domain/ports/index.ts';
import { PKI_EVENT_TYPES, PKI_PROJECTION, pkiCompleteness } from '../../projections/pki/index.ts';
import { checkpointsOfAnotherLog, describeOtherLog, readCheckpoint } from '../../projections/runtime/index.ts';
import type { CommittedReadModel } from './pki-committed.ts';

/**
 * The `pki` read model holds only part of the revocations it must hold before anything is signed from it (projected
 * to `position` of `until`): it is being rebuilt, or it was behind the log when PKI publishing started. A CRL fetched
 * meanwhile is the one issued before, when there is one; otherwise this error (HTTP 503 with Retry-After). OCSP
 * answers `tryLater`.
 */
export class PkiIncomplete extends Error {
  readonly code = 'pki_incomplete';

  constructor(
    readonly position: bigint | undefined,
    readonly until: bigint,
  ) {
    super(
      `the pki read model holds part of the revocations (projected to position ${position ?? 'none'} of ${until}); ` +
        'CRLs and OCSP answers are issued again once it is whole',
    );
    this.name = 'PkiIncomplete';
  }
}

export type CompleteRead<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly incomplete: PkiIncomplete };

/**
 * Runs `query` on the committed `pki` read model only when it is whole: it holds every revocation it held before its
 * last rebuild began (projections/pki `pkiCompleteness`), and has reached `mustReach` (`pkiStartFloor`). Both are read
 * in one read transaction with the query, so they describe one committed state: a rebuild committed between two
 * statements cannot pair a complete mark with emptied tables. Without this a CRL signed during a rebuild would leave
 * out revocations not re-projected yet, and OCSP would answer `good` for a certificate whose issuance was re-projected
 * before its revocation.
 */
export const readCompletePki = <T>(reads: CommittedReadModel, mustReach: PkiFloor | undefined, query: (db: Database.Database) => T): Promise<CompleteRead<T>> =>
  reads.read((db) => completeReadOn(db)(query, typeof mustReach === 'function' ? mustReach() : mustReach) as CompleteRead<T>);

/**
 * What the `pki` read model must reach before anything is signed from it: a position fixed at start, or one asked at
 * each read, which a read model stuck while the service runs moves on (pki-overdue.ts).
 */
export type PkiFloor = bigint | (() => bigint | undefined);

type CompleteReadRun = (query: (db: Database.Database) => unknown, mustReach: bigint | undefined) => CompleteRead<unknown>;

/**
 * One transaction function per connection, made once: `db.transaction` builds four wrappers each time it is called,
 * about 12 µs of CPU per uncached OCSP answer, as much as its reads (file read model, with a rebuild on record).
 */
const completeReads = new WeakMap<Database.Database, CompleteReadRun>();

const completeReadOn = (db: Database.Database): CompleteReadRun => {
  let run = completeReads.get(db);
  if (run === undefined) {
    run = db.transaction((query: (db: Database.Database) => unknown, mustReach: bigint | undefined): CompleteRead<unknown> => {
      const completeness = pkiCompleteness(db, mustReach);
      return completeness.complete ? { ok: true, value: query(db) } : { ok: false, incomplete: new PkiIncomplete(completeness.position, completeness.until) };
    });
    completeReads.set(db, run);
  }
  return run;
};

/**
 * What the `pki` read model must reach before PKI publishing signs from it: the last `pki` event of the log past its
 * checkpoint when publishing starts, or undefined when it has them all. A read model deleted (to be rebuilt at start)
 * whose catch-up then failed part-way, or one not caught up yet (a library that starts publishing before settling),
 * would otherwise be signed from: a CRL without the revocations not projected yet. One read of the log from the
 * checkpoint on, by event type (nothing to read when the read model is current).
 */
export const pkiStartFloor = async (store: EventStore, readModels: Database.Database): Promise<bigint | undefined> => {
  const checkpoint = readCheckpoint(readModels, PKI_PROJECTION)?.position;
  let last: bigint | undefined;
  const options = { ...(checkpoint !== undefined ? { afterPosition: checkpoint } : {}), filter: { eventTypes: [...PKI_EVENT_TYPES] } };
  await eachRecord(store, options, (record) => (last = record.position));
  return last;
};

/**
 * Refuses to sign from a `pki` read model built from another log (projections/runtime log-check.ts): nothing in it can
 * be trusted to match the log, and only its runner may reset it. The service's runner has checked it by then; a
 * library that starts PKI revocation without passing its runner gets this error instead of CRLs of another log.
 */
export const refuseAnotherLog = async (store: EventStore, readModels: Database.Database): Promise<void> => {
  const [other] = await checkpointsOfAnotherLog(readModels, store, [PKI_PROJECTION]);
  if (other !== undefined) {
    throw new Error(`the pki read model was built from another log (${describeOtherLog(other)}): pass its ProjectionRunner as credence.runner, or call its checkLog(), before starting PKI revocation`);
  }
};
