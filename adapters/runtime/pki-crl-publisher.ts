import type { IssuingCa } from '../../domain/x509/issuing-ca.ts';
import { revocationIssuer, signedCrl, type RevocationIssuer } from '../../domain/x509/revocation/index.ts';
import type { PublishedRevocation } from '../driven/pki/published-revocations.ts';
import { CrlListing, type NotNow } from './pki-crl-listing.ts';
import { chainEndOf, CrlNotSigned } from './pki-ended-cas.ts';
import { crlValiditiesOf, type CrlPublisherOptions } from './pki-crl-publisher-options.ts';
import { issuedBefore, issuedOrValid } from './pki-crl-fallback.ts';
import { crlTimes } from './pki-crl-times.ts';
import { DeltaBase, type Base } from './pki-crl-delta-base.ts';
import { crlThisUpdate, publishedCrl, type PublishedCrl } from './pki-published-crl.ts';
import { FailureRun } from './pki-published.ts';

/**
 * A complete CRL just signed, and the clock reading its times came from: a delta signed with it (at a start, on
 * schedule, as a base is chosen) takes its number and that reading (RFC 5280 5.2.3, review 312).
 */
type SignedComplete = Base & { readonly thisUpdate: number; readonly nextUpdate: number; readonly signedAt: number };

/** How the publisher judges the clock it signs with (pki-revocation.ts passes the live runtime's guard). */
export interface CrlClockTrust {
  /**
   * Whether the clock may be trusted to drop expired entries now (review 251: wall-clock-guard.ts, the verdict that
   * holds the expiry lane); default: always.
   */
  readonly clockTrusted?: () => boolean;
}

/**
 * The CRLs of one issuing CA (RFC 5280 5.2.4): a complete CRL and a delta CRL, both projections of the `pki` read
 * model. Each revocation (a few ms of them under load) issues a new delta listing what was revoked since the base;
 * the complete CRL is marked stale and assembled, when fetched, from the entries' cached DER (a copy and one
 * signature). So the cost of one revocation does not grow with the number revoked before it. CRL numbers come from
 * `numbers` (persisted, never reused) and are shared by both kinds, as 5.2.4 requires; a delta signed together with a
 * complete CRL carries that CRL's number (5.2.3: the same moment, the same number), any other CRL a new one.
 *
 * The base moves rarely (review 148). A relying party keeps a complete CRL until its nextUpdate and refreshes the
 * delta; a delta is usable with a complete CRL numbered at or above its base and below itself (5.2.4; OpenSSL's
 * check_delta_base), so a delta on a base newer than the complete CRL it holds is rejected, and it would fall back
 * to that complete CRL without the revocations since. So a complete CRL signed on a fetch or on schedule keeps the
 * base. Past `rebaseAfter` entries since the base, the complete CRL signed then becomes the next base, which takes
 * over as pki-crl-delta-base.ts says. Only with no base known (the CA's first CRL, a base file lost or of another
 * key) does a new complete CRL become the base at once.
 *
 * An entry leaves the list once its certificate has expired and it has been on every complete CRL for one CRL
 * validity after the first one issued beyond that expiry (RFC 5280 5.1.2.6: it appeared on at least one regularly
 * scheduled CRL beyond the validity period; a relying party that refreshes before nextUpdate has seen it). Removal
 * happens when a complete CRL is issued; the base stays, and the deltas stop listing the entry too. Every complete
 * CRL still within its nextUpdate was signed after the first one beyond the expiry, so it lists the entry (or was
 * signed after it left): a delta combined with it lists the entry no longer than that complete CRL does, and no
 * removeFromCRL entry is needed (5.2.4, 5.3.1). The read model keeps the revocation, so OCSP still answers `revoked`
 * (RFC 6960 allows it). When each entry was first listed beyond its expiry is kept in `marks` once that CRL is
 * signed, so a restart neither lists an entry again for another validity nor lets one leave before its time.
 */
export class CrlPublisher {
  readonly ca: IssuingCa;
  readonly #o: CrlPublisherOptions & CrlClockTrust;
  readonly #issuer: RevocationIssuer;
  readonly #validityMs: number;
  readonly #deltaValidityMs: number;
  readonly #rebaseAfter: number;
  readonly #listing: CrlListing;
  /** Where the deltas start, and the next base waiting to take over. */
  readonly #base: DeltaBase;
  #full: PublishedCrl | undefined;
  #delta: PublishedCrl | undefined;
  /** Entries were appended since the complete CRL: the next fetch assembles a new one. */
  #stale = true;
  #queue: Promise<unknown> = Promise.resolve();
  #scheduled: NodeJS.Timeout | undefined;
  #stopped = false;
  /** When the CA's chain ends (pki-ended-cas.ts): nothing is signed or served from then on. */
  readonly #endsAt: number;
  /**
   * Marks later than the clock were taken back (pki-crl-listing.ts): a complete CRL signed on the wrong clock may have
   * left out entries listed again now, so the next complete CRL is a new base and the deltas start from it. A relying
   * party holding one signed before rejects them and fetches that one (RFC 5280 5.2.4), instead of combining a list
   * that lacks an entry with deltas that do not name it as changed.
   */
  #rebaseWanted = false;

  constructor(options: CrlPublisherOptions & CrlClockTrust) {
    this.#o = options;
    this.ca = options.ca;
    this.#issuer = revocationIssuer(options.ca.certificate);
    this.#endsAt = chainEndOf(options.ca);
    ({ validityMs: this.#validityMs, deltaValidityMs: this.#deltaValidityMs } = crlValiditiesOf(options));
    this.#rebaseAfter = options.rebaseAfter ?? 1024;
    this.#listing = new CrlListing(options, this.#validityMs);
    const keyId = Buffer.from(this.#issuer.keyIdentifier).toString('hex');
    this.#base = new DeltaBase(this.#listing, keyId, options.base, (error) => this.#o.onError?.(error), crlThisUpdate(options.now));
  }

  /** Entries on the CA's CRL: its revocations, less those removed after their certificate expired. */
  get size(): number {
    return this.#listing.entries.count;
  }

  /**
   * Revocations this CA published that the event log does not hold (it was restored from an older backup): still
   * listed, and answered `revoked` by OCSP, until the credential is revoked again and the read model holds it.
   */
  get publishedNotInLog(): readonly PublishedRevocation[] {
    return this.#listing.publishedNotInLog;
  }

  /** One at a time: the entries, the base and the CRL numbers move together. A retired CA's refusal is no failure. */
  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch((error: unknown) => (error instanceof CrlNotSigned ? undefined : this.#report(error)));
    return run;
  }

  /**
   * Whether the last CRL this publisher tried to sign failed (its CA's key gone from the Secure Environment, an HSM
   * away). Reported once per run of failures, as the OCSP responder's (review 332: every anonymous fetch of a CRL, and
   * every tick, logged an error with a stack while the CA could not sign); the run ends at the next CRL signed, said
   * once (`onRecovered`).
   */
  readonly #unsigned = new FailureRun('crlSigning');
  /** What the CA's signer threw (#sign): reported through `#unsigned`, alone or as the cause of the fallback's report. */
  readonly #signingFailures = new WeakSet<object>();
  /** What the last signature threw, while no CRL was signed since (#sign). */
  #unsignedBy: { readonly error: unknown } | undefined;

  /**
   * Why this CA's CRLs cannot be signed now: what its signer threw at the last CRL tried (its key gone from the Secure
   * Environment, an HSM away), until one is signed again; undefined meanwhile otherwise. The service says the `pki`
   * component failing with it (GET /v1/projections, credence_component_failing): the CRLs issued before are served
   * while valid, so nothing else showed that new revocations were not being published (review 332).
   */
  get signingFailure(): { readonly error: unknown } | undefined {
    return this.#unsignedBy;
  }

  /** A failure of this publisher, told at once, or once per run when it is (or wraps) a signature that failed. */
  #report(error: unknown): void {
    const cause = error instanceof Error ? error.cause : undefined;
    const signing = [error, cause].some((e) => typeof e === 'object' && e !== null && this.#signingFailures.has(e));
    if (signing) this.#unsigned.failed(error, this.#o);
    else this.#o.onError?.(error);
  }

  /**
   * Refuses (CrlNotSigned) once the publisher is stopped or its CA's chain has ended (review 85): the retiring tick
   * stops only the timers, so jobs queued before it (a fetch behind a slow HSM signature) come here after it.
   */
  #refuseIfRetired(now = this.#o.now()): void {
    const refusal = CrlNotSigned.at(this.ca.id, this.#endsAt, this.#stopped, now);
    if (refusal !== undefined) throw refusal;
  }

  /** `crl`, unless the CA ended or the publisher stopped while it was being signed or waited for. */
  #servable(crl: PublishedCrl): PublishedCrl {
    this.#refuseIfRetired();
    return crl;
  }

  /**
   * The schedule's work (start, tick, a revocation's delta) signs nothing for a retired CA and says nothing of it:
   * its end is told once by the tick that retires it (pki-revocation.ts), not as a failure at each job.
   */
  #quietlyIfRetired(work: () => Promise<unknown>): Promise<void> {
    return this.#serial(async () => {
      try {
        await work();
      } catch (error) {
        if (!(error instanceof CrlNotSigned)) throw error;
      }
    });
  }

  /** Issues the first complete CRL and a delta, on the base kept before if any (once the read model is whole: see `full`). */
  start(): Promise<void> {
    return this.#quietlyIfRetired(async () => {
      if (typeof (await this.#catchUp()) !== 'number') return;
      await this.#completeAndDelta();
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
      void this.#quietlyIfRetired(async () => {
        // Backing off (5 ms doubling to 1 s): a transaction held open outside the runner must not keep it spinning.
        // A rebuild in progress is not waited for: the next fetch or tick after it issues what came.
        if ((await this.#issueForNew()) === 0 && this.#o.reads.uncommittedPkiWrites()) this.#wake(Math.min(Math.max(afterMs * 2, 5), 1000));
      });
    }, afterMs);
  }

  /** The read model was emptied (a rebuild): everything is read again before the next CRL. */
  reset(): void {
    this.#listing.reset();
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
    await this.#base.saving;
  }

  /**
   * The complete CRL, assembled now when revocations came after the last one. While the read model is incomplete
   * (being rebuilt, or behind the log when publishing started: PkiIncomplete), the one issued before: it lists every
   * revocation of its time and is valid until its nextUpdate, where a CRL signed from part of the revocations would
   * tell relying parties that the others are not revoked. The same while what came cannot be recorded as published
   * (PublicationUnrecorded: the disk). Rejects with that reason when none was issued yet. When the new one cannot be
   * signed (the CA's signer failed: an HSM away), the one issued before while it is within its nextUpdate (RFC 5280
   * 5.1.2.5: valid until then), the failure reported; past it, or with none, the failure. Once the CA's chain has
   * ended or the publisher is stopped, CrlNotSigned, even for a fetch that queued before (review 85).
   */
  full(): Promise<PublishedCrl> {
    return this.#serial(async () => {
      this.#refuseIfRetired();
      const read = await this.#catchUp();
      if (typeof read !== 'number') return this.#servable(issuedBefore(this.#full, read));
      // Not a new base, unless none is known: relying parties holding the complete CRLs before this one keep using the
      // deltas (review 148).
      const issue = () => (this.#base.known && !this.#rebaseWanted ? this.#complete() : this.#rebase());
      if (this.#stale || this.#full === undefined) await issuedOrValid(issue, () => this.#full, this.#of('complete'));
      return this.#servable(this.#full!);
    });
  }

  /**
   * The newest delta CRL (issued on every revocation, so never behind the read model by more than `coalesceMs`). While
   * the read model is incomplete or what came cannot be recorded, or a new one cannot be signed, the one issued
   * before, as for `full`; CrlNotSigned as for `full`.
   */
  delta(): Promise<PublishedCrl> {
    return this.#serial(async () => {
      this.#refuseIfRetired();
      const read = await this.#catchUp();
      if (typeof read !== 'number') return this.#servable(issuedBefore(this.#delta, read));
      await issuedOrValid(() => this.#issueAfter(read), () => this.#delta, this.#of('delta'));
      return this.#servable(this.#delta!);
    });
  }

  /** What `issuedOrValid` reports a CRL of `kind` by. */
  #of = (kind: 'complete' | 'delta') => ({ caId: this.ca.id, kind, now: () => this.#o.now(), onError: (e: unknown) => this.#report(e) });

  /** The schedule: each CRL is issued again once half of its validity has passed (before its nextUpdate). */
  tick(): Promise<void> {
    return this.#quietlyIfRetired(async () => {
      const now = this.#o.now();
      // Signed at a time still to come (on a clock that was ahead, or has been set back since): issued again on the clock
      // as it is, or none would be before that time plus half a validity (review 251).
      const due = (crl: PublishedCrl | undefined, validityMs: number) => crl === undefined || now < crl.thisUpdate || now >= crl.thisUpdate + validityMs / 2;
      if (typeof (await this.#catchUp()) !== 'number') return;
      if (due(this.#full, this.#validityMs)) await this.#completeAndDelta();
      // A CRL whose signature failed is tried again at each tick (review 337: only a fetch or the next due CRL did, so a
      // signer back in a minute left the pki component failing, and /readyz 503, for up to half a delta's validity).
      else if (due(this.#delta, this.#deltaValidityMs) || this.#newSinceDelta || this.#base.takeOverDue(now) || this.#unsignedBy !== undefined) {
        await this.#issueDelta();
      }
    });
  }

  stop(): void {
    this.#stopped = true;
    if (this.#scheduled !== undefined) clearTimeout(this.#scheduled);
    this.#scheduled = undefined;
  }

  #newSinceDelta = false;

  /**
   * Appends what the read model committed since the last look (pki-crl-listing.ts `catchUp`); returns how many
   * entries came, or why nothing new can be signed now.
   */
  async #catchUp(): Promise<number | NotNow> {
    const before = this.#listing.entries;
    const caught = await this.#listing.catchUp();
    if (!caught.ok) return caught.notNow;
    if (caught.reloaded) {
      // The list was read again (a rebuild): the base stays, placed again by what it listed.
      this.#base.unplace(before);
      this.#stale = true;
    }
    if (caught.marksTakenBack) this.#rebaseWanted = true;
    for (const { serialNumber, entry } of caught.raised) this.#base.raise(serialNumber, entry);
    if (caught.added > 0 || caught.raised.length > 0) {
      this.#stale = true;
      this.#newSinceDelta = true;
    }
    const notInLog = caught.notInLog;
    // Told once the state above is whole: a sink that throws must not leave a reload half applied.
    if (notInLog.length > 0) {
      try {
        this.#o.onPublishedNotInLog?.(notInLog);
      } catch (error) {
        this.#o.onError?.(error);
      }
    }
    return caught.added + caught.raised.length;
  }

  /** Issues a delta (or a new base) for what was committed since the last one; returns how many entries came. */
  async #issueForNew(): Promise<number | NotNow> {
    const added = await this.#catchUp();
    if (typeof added !== 'number') return added;
    return this.#issueAfter(added);
  }

  /** Issues a delta (or a new base) for the `added` entries a catch-up appended, or any not on a delta yet. */
  async #issueAfter(added: number): Promise<number> {
    if (added === 0 && !this.#newSinceDelta && this.#delta !== undefined && !this.#base.takeOverDue(this.#o.now())) return 0;
    await this.#issueDelta();
    return added;
  }

  /**
   * A new CRL's times, from one reading of the clock that is also the one checked: nothing at or past the end
   * (pki-crl-times.ts). `at`: the reading of the complete CRL a delta is signed with, so both say the same moment;
   * the retirement is still judged on the clock now (the complete CRL's signature may have taken a while).
   */
  #times(validityMs: number, at?: number): { thisUpdate: number; nextUpdate: number } {
    const now = this.#o.now();
    this.#refuseIfRetired(now);
    const times = crlTimes(at ?? now, validityMs, this.#endsAt);
    if (times === undefined) throw new CrlNotSigned(this.ca.id, 'ca_ended', new Date(this.#endsAt));
    return times;
  }

  #sign = async (tbs: Uint8Array): Promise<Uint8Array> => {
    try {
      const signature = await this.ca.signer.sign(tbs);
      this.#unsignedBy = undefined;
      this.#unsigned.succeeded(this.#o);
      return signature;
    } catch (error) {
      this.#unsignedBy = { error };
      if (typeof error === 'object' && error !== null) this.#signingFailures.add(error);
      throw error;
    }
  };

  /** A complete CRL, then a delta (on the base kept, or on that complete CRL when none is known). */
  async #completeAndDelta(): Promise<void> {
    if (!this.#base.known || this.#rebaseWanted) return this.#rebase();
    await this.#issueDelta(await this.#complete());
  }

  /**
   * A new complete CRL, without the entries expired long enough; returns where it ends in the list (as a base). The
   * base stays: the entries before it that were dropped only move where the deltas start.
   */
  async #complete(): Promise<SignedComplete> {
    // The times first: a refused CRL takes no number.
    const signedAt = this.#o.now();
    const times = this.#times(this.#validityMs, signedAt);
    this.#base.completeSignedUntil(times.nextUpdate);
    const crlNumber = this.#o.numbers.next();
    const entries = this.#listing.entries;
    // Expiry is judged only on a clock the live runtime's guard trusts (review 251): on one stepped ahead, a revoked
    // certificate valid for weeks was marked and then dropped, and relying parties that check only CRLs accepted it
    // once the clock was corrected. Held, nothing is marked or dropped: the entries stay listed, which is always correct.
    const trusted = this.#o.clockTrusted?.() ?? true;
    // Before the signature: what was dropped is gone from the list whether or not this CRL is signed (an HSM away),
    // and the deltas must start at the same entry as before.
    if (trusted) this.#base.dropExpired(times.thisUpdate, this.#validityMs);
    const der = await signedCrl(
      { issuer: this.#issuer, kind: this.ca.signer.kind, crlNumber, ...times, entries: entries.from(0), freshestCrlUrl: this.#o.urls.deltaCrl },
      this.#sign,
    );
    this.#full = publishedCrl(der, crlNumber, times.thisUpdate, times.nextUpdate);
    if (trusted) {
      this.#listing.keepMarks(entries.markListed(times.thisUpdate), times.thisUpdate);
      this.#listing.forgetLeft(times.thisUpdate);
    }
    this.#stale = false;
    return { crlNumber, index: entries.count, offset: entries.length, ...times, signedAt };
  }

  /**
   * No base is known: a new complete CRL is the base at once, and a delta on it. A relying party holding a complete
   * CRL signed before it rejects these deltas until it fetches the complete CRL again (at its nextUpdate at the latest).
   * The base is signed on its own, then the complete CRL served with the delta (review 312): the delta carries that
   * one's number (RFC 5280 5.2.3) and names a base below it (5.2.4: a delta numbered as its base combines with no
   * complete CRL, and crl.ts refuses it). Both list the same entries; the cost is one more signature, at a rebase only.
   */
  async #rebase(): Promise<void> {
    this.#base.restartAt(await this.#complete());
    this.#rebaseWanted = false;
    await this.#issueDelta(await this.#complete());
  }

  /**
   * A delta on the base. `withComplete`: the complete CRL just signed with it, whose number it carries (RFC 5280
   * 5.2.3); so does one signed here as the next base. Its base is at or below that number (the kept base, or that
   * complete CRL itself when none was known): a relying party holding a complete CRL numbered from its base to below
   * it combines the two (5.2.4), one holding that complete CRL needs no delta. Alone, it takes a new number, above
   * every CRL before it.
   */
  async #issueDelta(withComplete?: SignedComplete): Promise<void> {
    if (this.#base.placed() === undefined || this.#rebaseWanted) return this.#rebase();
    this.#base.takeOverIfDue(this.#o.now());
    if (this.#base.wantsNext(this.#rebaseAfter)) {
      // Every complete CRL signed before this one, in this process or before a restart, is valid until
      // `completeUntil` at the latest: the newest a relying party can hold below it.
      const until = this.#base.completeUntil;
      withComplete = await this.#complete();
      this.#base.chooseNext(withComplete, until, this.#validityMs);
    }
    // Read again: that complete CRL may have dropped entries before the base, which moved it.
    const base = this.#base.placed()!;
    const times = this.#times(this.#deltaValidityMs, withComplete?.signedAt);
    const crlNumber = withComplete?.crlNumber ?? this.#o.numbers.next();
    const der = await signedCrl(
      { issuer: this.#issuer, kind: this.ca.signer.kind, crlNumber, ...times, entries: this.#listing.entries.from(base.offset), baseCrlNumber: base.crlNumber },
      this.#sign,
    );
    this.#delta = publishedCrl(der, crlNumber, times.thisUpdate, times.nextUpdate);
    this.#newSinceDelta = false;
  }
}
