import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { revocationIssuer, revokedCertificateDer } from '../../domain/x509/revocation/index.ts';
import { revocationsAfter, revokedSerialsOfAnotherKey, type RevocationRow } from '../../projections/pki/index.ts';
import { boundCrlExpiryMarks, memoryCrlExpiryMarks, type CrlExpiryMarks } from '../driven/pki/crl-expiry-marks.ts';
import { memoryPublishedRevocations, raises, type PublishedRevocation } from '../driven/pki/published-revocations.ts';
import { readCompletePki, type PkiIncomplete } from './pki-complete.ts';
import type { CrlPublisherOptions } from './pki-crl-publisher-options.ts';
import { EntryBuffer, leavesTheList } from './pki-entry-buffer.ts';
import { crlThisUpdate } from './pki-published-crl.ts';
import { FailureRun, PublishedLedger, type PublicationUnrecorded } from './pki-published.ts';

/**
 * Revocations per read of the read model: a longer list is read page after page, all of it before anything is signed.
 * Each page is its own read transaction, with a turn of the event loop after it; so are the rows handled once read,
 * `ROWS_PER_TURN` at a time. A CA's whole list (a start, a rebuild) was one synchronous run of 100,000-row pages and
 * loops: on a million revocations the process answered no probe, request or OCSP query for as long as it lasted.
 */
const DEFAULT_READ_PAGE = 5_000;
const ROWS_PER_TURN = 5_000;

/** Why nothing new can be signed now: the read model is partial, or what would be listed is not recorded as published. */
export type NotNow = PkiIncomplete | PublicationUnrecorded;

/** A listed entry whose reason was raised to keyCompromise, as the CRLs are to list it from now on. */
export interface RaisedEntry {
  readonly serialNumber: string;
  readonly entry: Uint8Array;
}

/**
 * What a catch-up brought: how many entries came, whether the list was read again from the start (a reset), and the
 * published revocations the read model lacks, listed again (a reload only), for the publisher to report.
 */
export type CaughtUp =
  | {
      readonly ok: true;
      readonly added: number;
      readonly reloaded: boolean;
      readonly notInLog: readonly PublishedRevocation[];
      /** Entries listed before whose reason was raised to keyCompromise since, re-encoded: not moved yet. */
      readonly raised: readonly RaisedEntry[];
      /**
       * Marks later than the clock were taken back since the last catch-up (`takeBackMarksAfter`): the list was read
       * again, and CRLs signed on the wrong clock may have left out entries it holds again.
       */
      readonly marksTakenBack: boolean;
    }
  | { readonly ok: false; readonly notNow: NotNow };

/**
 * The entries on one CA's CRLs (pki-crl-publisher.ts signs them): the revocations read from the committed `pki` read
 * model, each recorded as published before it is listed, the published ones the read model lacks, and the expiry
 * marks that say when an expired entry leaves the list for good.
 */
export class CrlListing {
  readonly #o: CrlPublisherOptions;
  readonly #validityMs: number;
  readonly #readPage: number;
  #entries = new EntryBuffer();
  readonly #marksStore: CrlExpiryMarks;
  /** serial -> thisUpdate of the first complete CRL signed beyond its certificate's expiry (crl-expiry-marks.ts). */
  readonly #marks: Map<string, number>;
  /** No mark is later than this (-Infinity: none): a clock behind it was stepped back (`#takeBackMarksAfter`). */
  #latestMark = -Infinity;
  /** Marks were taken back and no catch-up has told it yet. */
  #marksTakenBack = false;
  /** Serials on the list: a certificate revoked twice (its first revocation stands) is one entry. */
  #serials = new Set<string>();
  readonly #ledger: PublishedLedger;
  /**
   * The CA's current key as the certificates it signs name it (lower-case hex): its CRLs list the revocations of those
   * only, not of what a predecessor under the same id signed (review 127; RFC 5280 5.1: a CRL lists what its issuer
   * issued). The old CA's CRLs, signed by the old key, are where those are listed.
   */
  readonly #keyId: string;
  /** Published revocations the read model did not hold when last read whole, by serial, until it holds them again. */
  #notInLog = new Map<string, PublishedRevocation>();
  /** Whether the last write to the ledger failed (reported once per run of failures, and the run's end once). */
  readonly #unrecorded = new FailureRun('crlPublication');
  #lastSeq = 0;
  #reload = true;
  /** Bumped by every `reset`: a read made before one is not used after it (`catchUp`). */
  #resets = 0;

  constructor(options: CrlPublisherOptions, validityMs: number) {
    this.#o = options;
    this.#validityMs = validityMs;
    this.#readPage = options.readPage ?? DEFAULT_READ_PAGE;
    if (!Number.isSafeInteger(this.#readPage) || this.#readPage < 1) throw new RangeError('readPage: must be a whole number >= 1');
    this.#marksStore = options.marks ?? memoryCrlExpiryMarks();
    this.#marks = new Map(this.#marksStore.load());
    for (const mark of this.#marks.values()) if (mark > this.#latestMark) this.#latestMark = mark;
    this.#ledger = options.published ?? new PublishedLedger(memoryPublishedRevocations());
    this.#keyId = Buffer.from(revocationIssuer(options.ca.certificate).keyIdentifier).toString('hex');
  }

  get entries(): EntryBuffer {
    return this.#entries;
  }

  /**
   * Revocations this CA published that the event log does not hold (it was restored from an older backup): still
   * listed, and answered `revoked` by OCSP, until the credential is revoked again and the read model holds it.
   */
  get publishedNotInLog(): readonly PublishedRevocation[] {
    return [...this.#notInLog.values()];
  }

  /** The read model was emptied (a rebuild): everything is read again before the next CRL. */
  reset(): void {
    this.#reload = true;
    this.#resets++;
  }

  /**
   * Appends what the read model committed since the last look; returns how many entries came. Never what an open
   * projection batch wrote: that batch may still roll back, and a CRL is signed and numbered (pki-committed.ts). Nor
   * anything while the read model is incomplete (PkiIncomplete, returned) or while what came cannot be recorded as
   * published (PublicationUnrecorded, returned and reported): what was read before stays as it was.
   */
  async catchUp(): Promise<CaughtUp> {
    this.#takeBackMarksAfter(this.#o.now());
    const reload = this.#reload;
    const resets = this.#resets;
    const rows: RevocationRow[] = [];
    // A reload also lists what was published and the read model lacks: not what another key under this id signed,
    // which the published-revocations file (kept by CA id) may hold from the CA this one replaced (review 127).
    let anotherKey = new Set<string>();
    if (reload) {
      const read = await readCompletePki(this.#o.reads, this.#o.mustReach, (db) => revokedSerialsOfAnotherKey(db, this.#o.ca.id, this.#keyId));
      if (!read.ok) return { ok: false, notNow: read.incomplete };
      anotherKey = read.value;
    }
    for (let after = reload ? 0 : this.#lastSeq; ; ) {
      const read = await readCompletePki(this.#o.reads, this.#o.mustReach, (db) => revocationsAfter(db, this.#o.ca.id, after, this.#readPage, this.#keyId));
      if (!read.ok) return { ok: false, notNow: read.incomplete };
      // A reset came while reading (it commits with the rebuild's first transaction): read again, as it left the
      // tables. Not 0 with what was read before: the caller would then sign from entries that miss what the read
      // brought (a complete CRL due, or a delta), while the tables are being rebuilt; nor the rows read before it with
      // the reset forgotten (a second one while `#reload` was still set).
      if (this.#resets !== resets) return this.catchUp();
      for (const row of read.value) rows.push(row);
      if (read.value.length < this.#readPage) break;
      after = read.value[read.value.length - 1]!.seq;
      // A reset meanwhile is seen after the next page's read, as one during a read is.
      await yieldToLoop();
    }
    // A row read twice (its reason raised to keyCompromise between two pages: its `seq` moved past them) is its
    // revocation, then its raise (review 210: the first copy won, and the raise was never read again): the ledger
    // records the raise over the first (PublishedLedger.record), and the list moves the entry as for any raise.
    const read = rows;
    // On disk before any CRL lists them, and before anything below changes. Not those whose entries left the CRLs
    // for good, judged at a CRL's time as the expiry drop judges them (a reload reads them again: they were forgotten
    // on purpose).
    const thisUpdate = crlThisUpdate(this.#o.now);
    // A reload reads every revocation again: only those not kept yet become records, and a reason raised to
    // keyCompromise since, recorded before a CRL lists it (OCSP may have recorded it first).
    const fresh: RevocationRow[] = [];
    for (let i = 0; i < read.length; i++) {
      if (i > 0 && i % ROWS_PER_TURN === 0) await yieldToLoop();
      const row = read[i]!;
      if (this.#leftForGood(row.serialNumber, thisUpdate)) continue;
      const kept = this.#ledger.get(row.serialNumber);
      if (kept === undefined || raises(kept, row)) fresh.push(row);
    }
    // Nothing changed yet: a reset during those turns is handled as one during the reads.
    if (this.#resets !== resets) return this.catchUp();
    const unrecorded = this.#ledger.recordOrReport(fresh.map(publishedOf), this.#unrecorded, this.#o);
    if (unrecorded !== undefined) return { ok: false, notNow: unrecorded };
    // Cleared before the turns below: a reset during them stands, and the next catch-up reads everything again.
    if (reload) this.#reload = false;
    // A reload fills a new list, put in place whole once filled: between two turns `entries` (the publisher's `size`)
    // is the old list, never part of the new one. Only this CA's publisher, one call at a time, appends to either.
    const entries = reload ? new EntryBuffer() : this.#entries;
    const serials = reload ? new Set<string>() : this.#serials;
    let added = 0;
    const raised: RaisedEntry[] = [];
    for (let i = 0; i < read.length; i++) {
      if (i > 0 && i % ROWS_PER_TURN === 0) await yieldToLoop();
      const row = read[i]!;
      this.#notInLog.delete(row.serialNumber);
      const first = this.#ledger.get(row.serialNumber);
      if (serials.has(row.serialNumber)) {
        // Listed already: a row read again is a reason raised to keyCompromise, told by what the list says (review 210:
        // not by the ledger, which OCSP may have told first). The publisher moves its entry, the first publication's
        // with the reason raised, past where the deltas start (DeltaBase.raise).
        if (row.reason === 'keyCompromise' && first?.reason === 'keyCompromise' && entries.keyCompromiseOf(row.serialNumber) === false) {
          raised.push({ serialNumber: row.serialNumber, entry: entryOf(first) });
        }
        continue;
      }
      serials.add(row.serialNumber);
      // The first publication stands: a certificate revoked again after a restore lost its first revocation keeps
      // the time, reason and invalidity date relying parties saw (OCSP answers them too); so does one an earlier
      // version published back-dated, without an invalidity date (review 203: it gains none). But for its raise.
      const listed = first === undefined || samePublication(first, row) ? row : first;
      const entry = listed === row ? row.entry : entryOf(first!);
      entries.append(entry, Date.parse(row.notAfter), row.serialNumber, this.#marks.get(row.serialNumber), listed.reason === 'keyCompromise');
      added++;
    }
    if (reload) {
      this.#entries = entries;
      this.#serials = serials;
      this.#lastSeq = 0;
    }
    const notInLog = reload ? this.#listPublishedNotInLog(thisUpdate, anotherKey) : [];
    added += notInLog.length;
    if (rows.length > 0) this.#lastSeq = rows[rows.length - 1]!.seq;
    const marksTakenBack = this.#marksTakenBack;
    this.#marksTakenBack = false;
    return { ok: true, added, reloaded: reload, notInLog, raised, marksTakenBack };
  }

  /**
   * Takes back the marks later than `now` (review 251). A mark is the thisUpdate of a complete CRL signed before, so
   * one in the future was set on a clock that was ahead (one stepped forward while the service ran past the guard, or
   * already wrong at its start) or the clock has been set back since: either way the entry's expiry was judged on a
   * time that is not now, and one dropped on it, a certificate still valid for weeks, went missing from the CRLs.
   * Without its mark the entry is listed as any other: the list is read again, which brings back from the read model
   * every revocation dropped meanwhile (their published records, forgotten with them, are recorded again), and the
   * entry leaves on the schedule of the clock as it is now. Listing an entry longer is always correct.
   */
  #takeBackMarksAfter(now: number): void {
    if (!(this.#latestMark > now)) return;
    let latest = -Infinity;
    let taken = 0;
    for (const [serial, mark] of this.#marks) {
      if (mark > now) {
        this.#marks.delete(serial);
        taken++;
      } else if (mark > latest) latest = mark;
    }
    this.#latestMark = latest;
    if (taken === 0) return;
    this.#reload = true;
    this.#marksTakenBack = true;
    // A failed write leaves them on disk: a restart takes them back again at its first catch-up.
    try {
      this.#marksStore.save(this.#marks);
    } catch (error) {
      this.#o.onError?.(error);
    }
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
  #listPublishedNotInLog(thisUpdate: number, anotherKey: ReadonlySet<string>): PublishedRevocation[] {
    const missing = this.#ledger
      .missingFrom(this.#serials)
      .filter((r) => !anotherKey.has(r.serialNumber) && !this.#leftForGood(r.serialNumber, thisUpdate));
    this.#notInLog = new Map(missing.map((r) => [r.serialNumber, r]));
    for (const r of missing) {
      this.#serials.add(r.serialNumber);
      this.#entries.append(entryOf(r), Date.parse(r.notAfter), r.serialNumber, this.#marks.get(r.serialNumber), r.reason === 'keyCompromise');
    }
    return missing;
  }

  /**
   * Keeps the marks the complete CRL signed at `thisUpdate` set. After the signature, never before: a mark on disk
   * means that CRL exists, so a removal never runs ahead of a CRL that was issued. A failed write leaves the disk
   * behind the CRLs (after a restart those entries are listed for longer, which is always correct): reported, and
   * the next write carries every mark.
   */
  keepMarks(serials: readonly string[], thisUpdate: number): void {
    if (serials.length === 0) return;
    for (const serial of serials) this.#marks.set(serial, thisUpdate);
    if (thisUpdate > this.#latestMark) this.#latestMark = thisUpdate;
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
  forgetLeft(thisUpdate: number): void {
    const gone: string[] = [];
    for (const serial of this.#marks.keys()) if (this.#leftForGood(serial, thisUpdate)) gone.push(serial);
    for (const serial of gone) this.#notInLog.delete(serial);
    try {
      this.#ledger.forget(gone);
    } catch (error) {
      this.#o.onError?.(error);
    }
  }
}

/** Whether the read model's `row` says what was first published: its entry is then the one to list. */
const samePublication = (first: PublishedRevocation, row: RevocationRow): boolean =>
  first.revokedAt === row.revokedAt && first.reason === row.reason && first.invalidSince === row.invalidSince;

const entryOf = (r: PublishedRevocation): Uint8Array =>
  revokedCertificateDer({
    serialNumber: r.serialNumber,
    revokedAt: Date.parse(r.revokedAt),
    reason: r.reason,
    ...(r.invalidSince !== undefined ? { invalidSince: Date.parse(r.invalidSince) } : {}),
  });

const publishedOf = (row: RevocationRow): PublishedRevocation => ({
  serialNumber: row.serialNumber,
  credentialId: row.credentialId,
  revokedAt: row.revokedAt,
  reason: row.reason,
  notAfter: row.notAfter,
  ...(row.invalidSince !== undefined ? { invalidSince: row.invalidSince } : {}),
});
