import { createHash } from 'node:crypto';
import type { IssuingCa } from '../../domain/x509/issuing-ca.ts';
import { revocationIssuer, revokedCertificateDer, signedCrl, type RevocationIssuer } from '../../domain/x509/revocation/index.ts';
import { revocationsAfter, type RevocationRow } from '../../projections/pki/index.ts';
import { boundCrlExpiryMarks, memoryCrlExpiryMarks, type CrlExpiryMarks } from '../driven/pki/crl-expiry-marks.ts';
import type { CrlNumbers } from '../driven/pki/crl-numbers.ts';
import { memoryPublishedRevocations, type PublishedRevocation } from '../driven/pki/published-revocations.ts';
import type { CommittedReadModel } from './pki-committed.ts';
import { PkiIncomplete, readCompletePki } from './pki-complete.ts';
import { EntryBuffer, leavesTheList } from './pki-entry-buffer.ts';
import { PublicationUnrecorded, PublishedLedger, type UnrecordedRun } from './pki-published.ts';

/** A signed CRL as served: DER, its number and times, and an entity tag for HTTP caches. */
export interface PublishedCrl {
  readonly der: Uint8Array;
  readonly crlNumber: number;
  readonly thisUpdate: number;
  readonly nextUpdate: number;
  readonly etag: string;
}

export interface CrlPublisherOptions {
  /** The `pki` read model as committed (pki-committed.ts): never what an open projection batch wrote. */
  readonly reads: CommittedReadModel;
  /** A position the read model must have projected before anything is signed from it (pki-complete.ts `pkiStartFloor`). */
  readonly mustReach?: bigint;
  readonly ca: IssuingCa;
  readonly urls: { readonly deltaCrl: string };
  readonly numbers: CrlNumbers;
  /** Which expired entries were listed on a complete CRL beyond their expiry, and when (default: in memory). */
  readonly marks?: CrlExpiryMarks;
  /** Every revocation this CA listed on a CRL (default: in memory); shared with its OCSP responder. */
  readonly published?: PublishedLedger;
  /**
   * Called when the read model, read whole, lacks revocations this CA published (an event store restored from an
   * older backup): they stay listed, and these are the credentials to revoke again.
   */
  readonly onPublishedNotInLog?: (revocations: readonly PublishedRevocation[]) => void;
  readonly now: () => number;
  /** nextUpdate - thisUpdate of a complete CRL (default 24 h); it is issued again once half of it has passed. */
  readonly validityMs?: number;
  /**
   * nextUpdate - thisUpdate of a delta CRL (default 1 h, at most `validityMs`); it is issued again once half of it has
   * passed. A relying party may keep a CRL until its nextUpdate: a delta as long-lived as the complete CRL would tell
   * it of a revocation no sooner than the complete CRL does, which is what deltas are for (RFC 5280 5.2.4).
   */
  readonly deltaValidityMs?: number;
  /** Revocations recorded within this many ms of the first share one delta CRL (default 2 ms). */
  readonly coalesceMs?: number;
  /** Entries a delta may list before a new complete CRL becomes its base (default 1024): bounds a delta's cost. */
  readonly rebaseAfter?: number;
  /** Revocations per read of the read model (default 100,000); a longer list is read whole, page after page. */
  readonly readPage?: number;
  readonly onError?: (error: unknown) => void;
}

export const DEFAULT_CRL_VALIDITY_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_DELTA_CRL_VALIDITY_MS = 60 * 60 * 1000;

/** Revocations per read of the read model: a longer list is read page after page, all of it before anything is signed. */
const DEFAULT_READ_PAGE = 100_000;

/** Why nothing new can be signed now: the read model is partial, or what would be listed is not recorded as published. */
type NotNow = PkiIncomplete | PublicationUnrecorded;

const publishedCrl = (der: Uint8Array, crlNumber: number, thisUpdate: number, nextUpdate: number): PublishedCrl => ({
  der,
  crlNumber,
  thisUpdate,
  nextUpdate,
  etag: `"${createHash('sha256').update(der).digest('base64url').slice(0, 32)}"`,
});

/**
 * The CRLs of one issuing CA (RFC 5280 5.2.4): a complete CRL and a delta CRL, both projections of the `pki` read
 * model. Each revocation (a few ms of them under load) issues a new delta listing what was revoked since the base;
 * the complete CRL is marked stale and assembled, when fetched, from the entries' cached DER (a copy and one
 * signature); past `rebaseAfter` entries in the delta, a new complete CRL becomes the base. So the cost of one
 * revocation does not grow with the number revoked before it. CRL numbers come from `numbers` (persisted, never
 * reused) and are shared by both kinds, as 5.2.4 requires; a new complete CRL is always followed by a delta on it.
 *
 * An entry leaves the list once its certificate has expired and it has been on every complete CRL for one CRL
 * validity after the first one issued beyond that expiry (RFC 5280 5.1.2.6: it appeared on at least one regularly
 * scheduled CRL beyond the validity period; a relying party that refreshes before nextUpdate has seen it). Removal
 * happens only when a new complete CRL is issued, which is also the new base: no delta ever spans a removal, so no
 * delta needs a removeFromCRL entry (5.2.4, 5.3.1), and a delta is never combined with an older base (it names its
 * own). The read model keeps the revocation, so OCSP still answers `revoked` (RFC 6960 allows it). When each entry
 * was first listed beyond its expiry is kept in `marks` once that CRL is signed, so a restart neither lists an entry
 * again for another validity nor lets one leave before its time.
 */
export class CrlPublisher {
  readonly ca: IssuingCa;
  readonly #o: CrlPublisherOptions;
  readonly #issuer: RevocationIssuer;
  readonly #validityMs: number;
  readonly #deltaValidityMs: number;
  readonly #rebaseAfter: number;
  readonly #readPage: number;
  readonly #entries = new EntryBuffer();
  readonly #marksStore: CrlExpiryMarks;
  /** serial -> thisUpdate of the first complete CRL signed beyond its certificate's expiry (crl-expiry-marks.ts). */
  readonly #marks: Map<string, number>;
  /** Serials on the list: a certificate revoked twice (its first revocation stands) is one entry. */
  readonly #serials = new Set<string>();
  readonly #ledger: PublishedLedger;
  /** Published revocations the read model did not hold when last read whole, by serial, until it holds them again. */
  #notInLog = new Map<string, PublishedRevocation>();
  /** Whether the last write to the ledger failed (reported once per run of failures). */
  readonly #unrecorded: UnrecordedRun = { failing: false };
  #lastSeq = 0;
  /** The complete CRL the deltas are on: its number and the entries it covers (a byte offset and a count). */
  #base: { crlNumber: number; offset: number; count: number } | undefined;
  #full: PublishedCrl | undefined;
  #delta: PublishedCrl | undefined;
  /** Entries were appended since the complete CRL: the next fetch assembles a new one. */
  #stale = true;
  #reload = true;
  /** Bumped by every `reset`: a read made before one is not used after it (`#catchUp`). */
  #resets = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #scheduled: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: CrlPublisherOptions) {
    this.#o = options;
    this.ca = options.ca;
    this.#issuer = revocationIssuer(options.ca.certificate);
    this.#validityMs = options.validityMs ?? DEFAULT_CRL_VALIDITY_MS;
    this.#rebaseAfter = options.rebaseAfter ?? 1024;
    this.#readPage = options.readPage ?? DEFAULT_READ_PAGE;
    if (!Number.isSafeInteger(this.#readPage) || this.#readPage < 1) throw new RangeError('readPage: must be a whole number >= 1');
    this.#marksStore = options.marks ?? memoryCrlExpiryMarks();
    this.#marks = new Map(this.#marksStore.load());
    this.#ledger = options.published ?? new PublishedLedger(memoryPublishedRevocations());
    if (!Number.isSafeInteger(this.#validityMs) || this.#validityMs < 2000) throw new RangeError('validityMs: must be a whole number of ms >= 2000');
    this.#deltaValidityMs = options.deltaValidityMs ?? Math.min(DEFAULT_DELTA_CRL_VALIDITY_MS, this.#validityMs);
    if (!Number.isSafeInteger(this.#deltaValidityMs) || this.#deltaValidityMs < 2000 || this.#deltaValidityMs > this.#validityMs) {
      throw new RangeError(`deltaValidityMs: must be a whole number of ms from 2000 to validityMs (${this.#validityMs})`);
    }
  }

  /** Entries on the CA's CRL: its revocations, less those removed after their certificate expired. */
  get size(): number {
    return this.#entries.count;
  }

  /**
   * Revocations this CA published that the event log does not hold (it was restored from an older backup): still
   * listed, and answered `revoked` by OCSP, until the credential is revoked again and the read model holds it.
   */
  get publishedNotInLog(): readonly PublishedRevocation[] {
    return [...this.#notInLog.values()];
  }

  /** One at a time: the entries, the base and the CRL numbers move together. */
  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch((error: unknown) => this.#o.onError?.(error));
    return run;
  }

  /** Issues the first complete CRL and its delta (once the read model is whole: see `full`). */
  start(): Promise<void> {
    return this.#serial(async () => {
      if (typeof (await this.#catchUp()) !== 'number') return;
      await this.#rebase();
    });
  }

  /** A revocation of this CA was recorded: a delta is issued within `coalesceMs`, with whatever else came meanwhile. */
  notify(): void {
    this.#wake(this.#o.coalesceMs ?? 2);
  }

  /**
   * The notice comes from inside the projection's transaction. The runner commits the `pki` batch before any timer
   * runs, so the look finds the revocation; when that transaction can stay open across awaits (the projection run
   * with reactions) it may find nothing yet, and looks again until that transaction has ended.
   */
  #wake(afterMs: number): void {
    if (this.#scheduled !== undefined || this.#stopped) return;
    this.#scheduled = setTimeout(() => {
      this.#scheduled = undefined;
      void this.#serial(async () => {
        // Backing off (5 ms doubling to 1 s): a transaction held open outside the runner must not keep it spinning.
        // A rebuild in progress is not waited for: the next fetch or tick after it issues what came.
        if ((await this.#issueForNew()) === 0 && this.#o.reads.uncommittedPkiWrites()) this.#wake(Math.min(Math.max(afterMs * 2, 5), 1000));
      });
    }, afterMs);
  }

  /** The read model was emptied (a rebuild): everything is read again before the next CRL. */
  reset(): void {
    this.#reload = true;
    this.#resets++;
    this.notify();
  }

  /**
   * Resolves once every revocation notified so far is on a published delta, or was looked at and could not be
   * recorded as published (PublicationUnrecorded, reported): tests, benchmarks.
   */
  async settled(): Promise<void> {
    // A look may schedule another (#wake) while the writer's transaction is still open: until none is pending.
    do {
      while (this.#scheduled !== undefined) await new Promise((resolve) => setTimeout(resolve, 1));
      await this.#queue;
    } while (this.#scheduled !== undefined);
  }

  /**
   * The complete CRL, assembled now when revocations came after the last one. While the read model is incomplete
   * (being rebuilt, or behind the log when publishing started: PkiIncomplete), the one issued before: it lists every
   * revocation of its time and is valid until its nextUpdate, where a CRL signed from part of the revocations would
   * tell relying parties that the others are not revoked. The same while what came cannot be recorded as published
   * (PublicationUnrecorded: the disk). Rejects with that reason when none was issued yet. When the new one cannot be
   * signed (the CA's signer failed: an HSM away), the one issued before while it is within its nextUpdate (RFC 5280
   * 5.1.2.5: valid until then), the failure reported; past it, or with none, the failure.
   */
  full(): Promise<PublishedCrl> {
    return this.#serial(async () => {
      const read = await this.#catchUp();
      if (typeof read !== 'number') return this.#published(this.#full, read);
      if (this.#stale || this.#full === undefined) await this.#issuedOrValid(() => this.#rebase(), () => this.#full, 'complete');
      return this.#full!;
    });
  }

  /**
   * The newest delta CRL (issued on every revocation, so never behind the read model by more than `coalesceMs`). While
   * the read model is incomplete or what came cannot be recorded, or a new one cannot be signed, the one issued
   * before, as for `full`.
   */
  delta(): Promise<PublishedCrl> {
    return this.#serial(async () => {
      const read = await this.#catchUp();
      if (typeof read !== 'number') return this.#published(this.#delta, read);
      await this.#issuedOrValid(() => this.#issueAfter(read), () => this.#delta, 'delta');
      return this.#delta!;
    });
  }

  #published(crl: PublishedCrl | undefined, notNow: NotNow): PublishedCrl {
    if (crl === undefined) throw notNow;
    return crl;
  }

  /**
   * Runs `issue`; when it fails and `last()` (read after the failure: a complete CRL signed before its delta failed
   * counts) is within its nextUpdate, reports the failure and resolves, so that CRL is served (RFC 5280 5.1.2.5).
   * Otherwise rejects with the failure. What could not be issued stays due: the next fetch or tick tries again.
   */
  async #issuedOrValid(issue: () => Promise<unknown>, last: () => PublishedCrl | undefined, kind: 'complete' | 'delta'): Promise<void> {
    try {
      await issue();
    } catch (error) {
      const crl = last();
      if (crl === undefined || this.#o.now() >= crl.nextUpdate) throw error;
      const message = error instanceof Error ? error.message : String(error);
      this.#o.onError?.(
        new Error(`CA ${this.ca.id}: a CRL could not be issued (${message}); the ${kind} CRL ${crl.crlNumber}, valid until ${new Date(crl.nextUpdate).toISOString()}, is served`, {
          cause: error,
        }),
      );
    }
  }

  /** The schedule: each CRL is issued again once half of its validity has passed (before its nextUpdate). */
  tick(): Promise<void> {
    return this.#serial(async () => {
      const now = this.#o.now();
      const due = (crl: PublishedCrl | undefined, validityMs: number) => crl === undefined || now >= crl.thisUpdate + validityMs / 2;
      if (typeof (await this.#catchUp()) !== 'number') return;
      if (due(this.#full, this.#validityMs)) await this.#rebase();
      else if (due(this.#delta, this.#deltaValidityMs) || this.#newSinceDelta) await this.#issueDelta();
    });
  }

  stop(): void {
    this.#stopped = true;
    if (this.#scheduled !== undefined) clearTimeout(this.#scheduled);
    this.#scheduled = undefined;
  }

  #newSinceDelta = false;

  /**
   * Appends what the read model committed since the last look; returns how many entries came. Never what an open
   * projection batch wrote: that batch may still roll back, and a CRL is signed and numbered (pki-committed.ts). Nor
   * anything while the read model is incomplete (PkiIncomplete, returned) or while what came cannot be recorded as
   * published (PublicationUnrecorded, returned and reported): what was read before stays as it was.
   */
  async #catchUp(): Promise<number | NotNow> {
    const reload = this.#reload;
    const resets = this.#resets;
    const rows: RevocationRow[] = [];
    for (let after = reload ? 0 : this.#lastSeq; ; ) {
      const read = await readCompletePki(this.#o.reads, this.#o.mustReach, (db) => revocationsAfter(db, this.ca.id, after, this.#readPage));
      if (!read.ok) return read.incomplete;
      // A reset came while reading (it commits with the rebuild's first transaction): read again, as it left the
      // tables. Not 0 with what was read before: the caller would then sign from entries that miss what the read
      // brought (a complete CRL due, or a delta), while the tables are being rebuilt; nor the rows read before it with
      // the reset forgotten (a second one while `#reload` was still set).
      if (this.#resets !== resets) return this.#catchUp();
      for (const row of read.value) rows.push(row);
      if (read.value.length < this.#readPage) break;
      after = read.value[read.value.length - 1]!.seq;
    }
    // On disk before any CRL lists them, and before anything below changes. Not those whose entries left the CRLs
    // for good, judged at a CRL's time as the expiry drop judges them (a reload reads them again: they were forgotten
    // on purpose).
    const thisUpdate = this.#thisUpdate();
    // A reload reads every revocation again: only those not kept yet become records.
    const fresh = rows.filter((row) => this.#ledger.get(row.serialNumber) === undefined && !this.#leftForGood(row.serialNumber, thisUpdate));
    const unrecorded = this.#ledger.recordOrReport(fresh.map(publishedOf), this.#unrecorded, this.#o.onError);
    if (unrecorded !== undefined) return unrecorded;
    if (reload) {
      this.#reload = false;
      this.#entries.clear();
      this.#serials.clear();
      this.#lastSeq = 0;
      this.#base = undefined;
      this.#stale = true;
    }
    let added = 0;
    for (const row of rows) {
      this.#notInLog.delete(row.serialNumber);
      if (this.#serials.has(row.serialNumber)) continue;
      this.#serials.add(row.serialNumber);
      // The first publication stands: a certificate revoked again after a restore lost its first revocation keeps
      // the time and reason relying parties saw (OCSP answers them too).
      const first = this.#ledger.get(row.serialNumber);
      const entry = first === undefined || (first.revokedAt === row.revokedAt && first.reason === row.reason) ? row.entry : entryOf(first);
      this.#entries.append(entry, Date.parse(row.notAfter), row.serialNumber, this.#marks.get(row.serialNumber));
      added++;
    }
    const notInLog = reload ? this.#listPublishedNotInLog(thisUpdate) : [];
    added += notInLog.length;
    if (rows.length > 0) this.#lastSeq = rows[rows.length - 1]!.seq;
    if (added > 0) {
      this.#stale = true;
      this.#newSinceDelta = true;
    }
    // Told once the state above is whole: a sink that throws must not leave a reload half applied.
    if (notInLog.length > 0) {
      try {
        this.#o.onPublishedNotInLog?.(notInLog);
      } catch (error) {
        this.#o.onError?.(error);
      }
    }
    return added;
  }

  /** Whether the entry of `serial` has left the CRLs for good at `at` (the rule of `dropExpired`, from its mark). */
  #leftForGood(serial: string, at: number): boolean {
    const mark = this.#marks.get(serial);
    return mark !== undefined && leavesTheList(mark, at, this.#validityMs);
  }

  /**
   * After a whole read: what this CA published and the read model lacks stays on the list, first publication's time
   * and reason (RFC 5280 5.1.2.6: an entry leaves a CRL only after its certificate expired); returned to be reported.
   * Not those whose entries left the CRLs for good at `thisUpdate`: there is nothing left to list or to revoke again,
   * though their records may wait for enough of them to be forgotten.
   */
  #listPublishedNotInLog(thisUpdate: number): PublishedRevocation[] {
    const missing = this.#ledger.missingFrom(this.#serials).filter((r) => !this.#leftForGood(r.serialNumber, thisUpdate));
    this.#notInLog = new Map(missing.map((r) => [r.serialNumber, r]));
    for (const r of missing) {
      this.#serials.add(r.serialNumber);
      this.#entries.append(entryOf(r), Date.parse(r.notAfter), r.serialNumber, this.#marks.get(r.serialNumber));
    }
    return missing;
  }

  /** Issues a delta (or a new base) for what was committed since the last one; returns how many entries came. */
  async #issueForNew(): Promise<number | NotNow> {
    const added = await this.#catchUp();
    if (typeof added !== 'number') return added;
    return this.#issueAfter(added);
  }

  /** Issues a delta (or a new base) for the `added` entries a catch-up appended, or any not on a delta yet. */
  async #issueAfter(added: number): Promise<number> {
    if (added === 0 && !this.#newSinceDelta && this.#delta !== undefined) return 0;
    if (this.#base === undefined || this.#entries.count - this.#base.count > this.#rebaseAfter) await this.#rebase();
    else await this.#issueDelta();
    return added;
  }

  /** Now, in whole seconds: what a CRL signed now says (time.ts). */
  #thisUpdate(): number {
    return Math.floor(this.#o.now() / 1000) * 1000;
  }

  #times(validityMs: number): { thisUpdate: number; nextUpdate: number } {
    const thisUpdate = this.#thisUpdate();
    return { thisUpdate, nextUpdate: thisUpdate + validityMs };
  }

  #sign = (tbs: Uint8Array): Promise<Uint8Array> => this.ca.signer.sign(tbs);

  /** A new complete CRL (the new base, without the entries expired long enough) and an empty delta on it. */
  async #rebase(): Promise<void> {
    const crlNumber = this.#o.numbers.next();
    const times = this.#times(this.#validityMs);
    // Dropping moves the entries after the dropped ones: the old base's offset no longer marks where the deltas
    // start. Until the new base is signed there is none, so a failed signature (an HSM away) is followed by a new
    // complete CRL, never by a delta cut at a stale offset (entries missed, or a slice through one).
    if (this.#entries.dropExpired(times.thisUpdate, this.#validityMs) > 0) this.#base = undefined;
    const der = await signedCrl(
      { issuer: this.#issuer, kind: this.ca.signer.kind, crlNumber, ...times, entries: this.#entries.from(0), freshestCrlUrl: this.#o.urls.deltaCrl },
      this.#sign,
    );
    this.#full = publishedCrl(der, crlNumber, times.thisUpdate, times.nextUpdate);
    this.#keepMarks(this.#entries.markListed(times.thisUpdate), times.thisUpdate);
    this.#forgetLeft(times.thisUpdate);
    this.#base = { crlNumber, offset: this.#entries.length, count: this.#entries.count };
    this.#stale = false;
    await this.#issueDelta();
  }

  /**
   * Keeps the marks the complete CRL signed at `thisUpdate` set. After the signature, never before: a mark on disk
   * means that CRL exists, so a removal never runs ahead of a CRL that was issued. A failed write leaves the disk
   * behind the CRLs (after a restart those entries are listed for longer, which is always correct): reported, and
   * the next write carries every mark.
   */
  #keepMarks(serials: readonly string[], thisUpdate: number): void {
    if (serials.length === 0) return;
    for (const serial of serials) this.#marks.set(serial, thisUpdate);
    // Bounded, in memory and on disk: past the file's limit every save would fail while the map kept growing.
    boundCrlExpiryMarks(this.#marks);
    try {
      this.#marksStore.save(this.#marks);
    } catch (error) {
      this.#o.onError?.(error);
    }
  }

  /**
   * Forgets the published revocations whose entries have left the list for good (the rule of `dropExpired`, from the
   * expiry marks): no restore can bring them back onto a CRL. A failed rewrite only keeps them longer: reported.
   */
  #forgetLeft(thisUpdate: number): void {
    const gone: string[] = [];
    for (const serial of this.#marks.keys()) if (this.#leftForGood(serial, thisUpdate)) gone.push(serial);
    for (const serial of gone) this.#notInLog.delete(serial);
    try {
      this.#ledger.forget(gone);
    } catch (error) {
      this.#o.onError?.(error);
    }
  }

  async #issueDelta(): Promise<void> {
    if (this.#base === undefined) return this.#rebase();
    const crlNumber = this.#o.numbers.next();
    const times = this.#times(this.#deltaValidityMs);
    const der = await signedCrl(
      { issuer: this.#issuer, kind: this.ca.signer.kind, crlNumber, ...times, entries: this.#entries.from(this.#base.offset), baseCrlNumber: this.#base.crlNumber },
      this.#sign,
    );
    this.#delta = publishedCrl(der, crlNumber, times.thisUpdate, times.nextUpdate);
    this.#newSinceDelta = false;
  }
}

const entryOf = (r: PublishedRevocation): Uint8Array =>
  revokedCertificateDer({ serialNumber: r.serialNumber, revokedAt: Date.parse(r.revokedAt), reason: r.reason });

const publishedOf = (row: RevocationRow): PublishedRevocation => ({
  serialNumber: row.serialNumber,
  credentialId: row.credentialId,
  revokedAt: row.revokedAt,
  reason: row.reason,
  notAfter: row.notAfter,
});
