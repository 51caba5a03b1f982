import { raises, type PublishedRevocation, type PublishedRevocations } from '../driven/pki/published-revocations.ts';

/** Revocations came that could not be recorded as published (the disk): no CRL lists them until they are. */
export class PublicationUnrecorded extends Error {
  readonly code = 'publication_unrecorded';

  constructor(cause: unknown) {
    super(
      `revocations could not be recorded as published (${cause instanceof Error ? cause.message : String(cause)}); ` +
        'the CRLs issued before are served until they are',
      { cause },
    );
    this.name = 'PublicationUnrecorded';
  }
}

/** What works again when a run of failures ends. */
export type RecoveredWork =
  /** The OCSP responder signs answers again (its run: `internalError` answers). */
  | 'ocspSigning'
  /** The OCSP responder records the revocations it answers `revoked` as published again. */
  | 'ocspPublication'
  /** The CRL listing records the revocations its CRLs are to list as published again: new CRLs can list them. */
  | 'crlPublication'
  /** The CRL publisher signs CRLs again (its run: the CRLs issued before served, or the fetch refused). */
  | 'crlSigning';

/** A run of failures that ended: what works again and how many failures the run held. Nothing of their causes. */
export interface FailuresEnded {
  readonly what: RecoveredWork;
  readonly failures: number;
}

/** Where a run's first failure and its end are told (the options of the responder and of the CRL publisher). */
export interface RunSinks {
  readonly onError?: (error: unknown) => void;
  readonly onRecovered?: (ended: FailuresEnded) => void;
}

/**
 * One caller's run of failures of one kind of work: its first failure is reported, and its end (the next success),
 * so that an operator who saw the error can tell from the log that it recovered. What the sinks throw is dropped:
 * a report must not change what is answered or signed.
 */
export class FailureRun {
  readonly what: RecoveredWork;
  #failures = 0;

  constructor(what: RecoveredWork) {
    this.what = what;
  }

  get failing(): boolean {
    return this.#failures > 0;
  }

  failed(error: unknown, sinks: RunSinks): void {
    if (this.#failures++ > 0) return;
    try {
      sinks.onError?.(error);
    } catch {
      // The sink must not take the caller down.
    }
  }

  succeeded(sinks: RunSinks): void {
    if (this.#failures === 0) return;
    const failures = this.#failures;
    this.#failures = 0;
    try {
      sinks.onRecovered?.({ what: this.what, failures });
    } catch {
      // As for `failed`.
    }
  }
}

/** What a CA's recovery says in the service's log: its id, what works again and how many failures the run held. */
export const recoveredMessage = (caId: string, { what, failures }: FailuresEnded): string => {
  const after = `after ${failures} failure${failures === 1 ? '' : 's'} in a row`;
  switch (what) {
    case 'ocspSigning':
      return `CA ${caId}: OCSP answers are signed again, ${after} (answered internalError)`;
    case 'ocspPublication':
      return `CA ${caId}: the revocations its OCSP answers are recorded as published again, ${after}`;
    case 'crlPublication':
      return `CA ${caId}: the revocations its CRLs list are recorded as published again, ${after}: new CRLs can list them`;
    case 'crlSigning':
      return `CA ${caId}: its CRLs are signed again, ${after}`;
    default: {
      const never: never = what;
      throw new TypeError(`unknown work ${JSON.stringify(never)}`);
    }
  }
};

/** Records forgotten at once at least (and at least a quarter of what is kept): each forgetting rewrites the file. */
const FORGET_AT_LEAST = 1024;

/**
 * What one CA has published, in memory and on disk (published-revocations.ts), shared by its CRL publisher (which
 * records each revocation before signing a CRL that lists it) and its OCSP responder (which answers `revoked` for a
 * published revocation the event log no longer holds).
 */
export class PublishedLedger {
  readonly #store: PublishedRevocations;
  readonly #kept: Map<string, PublishedRevocation>;

  constructor(store: PublishedRevocations) {
    this.#store = store;
    this.#kept = new Map(store.load());
  }

  get size(): number {
    return this.#kept.size;
  }

  get(serialNumber: string): PublishedRevocation | undefined {
    return this.#kept.get(serialNumber);
  }

  /**
   * Keeps those of `records` not kept yet, and the raise to keyCompromise of one kept, synced to disk before this
   * returns. A failed write throws and keeps none of them, so the caller signs nothing that lists them and tries again
   * later.
   */
  record(records: readonly PublishedRevocation[]): void {
    const fresh = new Map<string, PublishedRevocation>();
    for (const r of records) {
      // The first of a serial, kept or earlier in `records` (a reload may read a revocation and then its raise).
      const first = fresh.get(r.serialNumber) ?? this.#kept.get(r.serialNumber);
      if (first === undefined) fresh.set(r.serialNumber, r);
      // A reason raised to keyCompromise: the publication relying parties saw, its time and invalidity date, with
      // the raised reason (RFC 5280 5.3.1). Nothing else changes what was published.
      else if (raises(first, r)) fresh.set(r.serialNumber, { ...first, reason: 'keyCompromise' });
    }
    if (fresh.size === 0) return;
    this.#store.append([...fresh.values()]);
    for (const [serial, r] of fresh) this.#kept.set(serial, r);
  }

  /**
   * `record`, for a caller that goes on when the write fails: returns the failure (PublicationUnrecorded) instead of
   * throwing, and reports its cause through `sinks.onError` once per run of failures of this caller (`run`, its own
   * state), since every request tries again and a full disk would otherwise fill the log; the run's end, through
   * `sinks.onRecovered`.
   */
  recordOrReport(records: readonly PublishedRevocation[], run: FailureRun, sinks: RunSinks): PublicationUnrecorded | undefined {
    try {
      this.record(records);
    } catch (error) {
      run.failed(error, sinks);
      return new PublicationUnrecorded(error);
    }
    run.succeeded(sinks);
    return undefined;
  }

  /** The kept revocations whose serial `listed` does not hold, oldest publication first. */
  missingFrom(listed: ReadonlySet<string>): PublishedRevocation[] {
    return [...this.#kept.values()].filter((r) => !listed.has(r.serialNumber));
  }

  /**
   * Forgets the records of the serials in `gone` (those that left the CRLs for good), once they are many enough to be
   * worth rewriting the file for. Returns how many were forgotten; a failed rewrite throws and forgets none.
   */
  forget(gone: Iterable<string>): number {
    const leaving = new Set<string>();
    for (const serial of gone) if (this.#kept.has(serial)) leaving.add(serial);
    if (leaving.size === 0 || leaving.size < Math.max(FORGET_AT_LEAST, this.#kept.size / 4)) return 0;
    const keep = [...this.#kept.values()].filter((r) => !leaving.has(r.serialNumber));
    this.#store.replace(keep);
    for (const serial of leaving) this.#kept.delete(serial);
    return leaving.size;
  }
}
