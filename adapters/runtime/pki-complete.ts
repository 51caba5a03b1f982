import type Database from 'better-sqlite3';
import { pkiCompleteness } from '../../projections/pki/index.ts';
import type { CommittedReadModel } from './pki-committed.ts';

/**
 * The `pki` read model is being rebuilt and holds only part of the revocations it held before (`position` of
 * `until`): nothing is signed from it until it is whole again. A CRL fetched meanwhile is the one issued before the
 * rebuild, when there is one; otherwise this error (HTTP 503 with Retry-After). OCSP answers `tryLater`.
 */
export class PkiRebuilding extends Error {
  readonly code = 'pki_rebuilding';

  constructor(
    readonly position: bigint | undefined,
    readonly until: bigint,
  ) {
    super(
      `the pki read model is being rebuilt (projected to position ${position ?? 'none'} of ${until}); ` +
        'CRLs and OCSP answers are issued again once it is whole',
    );
    this.name = 'PkiRebuilding';
  }
}

export type CompleteRead<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly rebuilding: PkiRebuilding };

/**
 * Runs `query` on the committed `pki` read model only when it holds every revocation it held before its last rebuild
 * began (projections/pki `pkiCompleteness`). Both are read in one read transaction, so they describe one committed
 * state: a rebuild committed between two statements cannot pair a complete mark with emptied tables. Without this a
 * CRL signed during a rebuild would leave out revocations not re-projected yet, and OCSP would answer `good` for a
 * certificate whose issuance was re-projected before its revocation.
 */
export const readCompletePki = <T>(reads: CommittedReadModel, query: (db: Database.Database) => T): Promise<CompleteRead<T>> =>
  reads.read((db) => completeReadOn(db)(query) as CompleteRead<T>);

/**
 * One transaction function per connection, made once: `db.transaction` builds four wrappers each time it is called,
 * about 12 µs of CPU per uncached OCSP answer, as much as its reads (file read model, with a rebuild on record).
 */
const completeReads = new WeakMap<Database.Database, (query: (db: Database.Database) => unknown) => CompleteRead<unknown>>();

const completeReadOn = (db: Database.Database): ((query: (db: Database.Database) => unknown) => CompleteRead<unknown>) => {
  let run = completeReads.get(db);
  if (run === undefined) {
    run = db.transaction((query: (db: Database.Database) => unknown): CompleteRead<unknown> => {
      const completeness = pkiCompleteness(db);
      return completeness.complete ? { ok: true, value: query(db) } : { ok: false, rebuilding: new PkiRebuilding(completeness.position, completeness.until) };
    });
    completeReads.set(db, run);
  }
  return run;
};
