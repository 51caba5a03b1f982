import type { CrlBaseStore } from '../driven/pki/crl-base.ts';
import type { CrlListing } from './pki-crl-listing.ts';
import type { EntryBuffer } from './pki-entry-buffer.ts';

/** Where the deltas start: the complete CRL they name, and the entries it listed (those before `index`; `offset` bytes). */
export interface Base {
  readonly crlNumber: number;
  readonly index: number;
  readonly offset: number;
}

const without = (set: ReadonlySet<string>, serial: string): ReadonlySet<string> => new Set([...set].filter((s) => s !== serial));

/**
 * A base kept from before a restart or a rebuild, not placed in the list yet: the serials it listed, and which of them
 * as keyCompromise (undefined: kept before raises were; EntryBuffer.firstNotIn).
 */
interface Unplaced {
  readonly crlNumber: number;
  readonly listed: ReadonlySet<string>;
  readonly keyCompromise: ReadonlySet<string> | undefined;
}

/**
 * The base of one CA's delta CRLs, and the next base waiting to take over (RFC 5280 5.2.4; review 148). A delta is
 * usable with a complete CRL numbered at or above its base and below itself, so the base moves rarely: only once
 * every complete CRL numbered below the next base has passed its nextUpdate (`takesOverAt`), and no holder of a valid
 * complete CRL is given a delta it must reject. Both are kept across restarts and rebuilds (`store`), as the serials
 * they listed, and placed again in the list read again (`placed`). The latest nextUpdate of any complete CRL the CA
 * signed is kept too (review 157): a next base chosen after a restart takes over no earlier, whatever the clock.
 * That file may be older than the CRLs (a data folder restored from a backup, review 264), so a next base also waits
 * a CRL validity after `openedAt`: no complete CRL an earlier process signed is dated later.
 */
export class DeltaBase {
  #base: Base | undefined;
  #unplaced: Unplaced | undefined;
  #next: (Base & { readonly takesOverAt: number }) | undefined;
  #unplacedNext: (Unplaced & { readonly takesOverAt: number }) | undefined;
  #completeUntil: number | undefined;
  /** The last write of the base (`#keep`): the publisher's `settled` waits for it. */
  #saving: Promise<unknown> = Promise.resolve();

  /**
   * `keyId`: the CA key as its CRLs name it (lower-case hex); a kept base of another key is not this CA's. `openedAt`:
   * when the publisher was made, in whole seconds as CRLs are dated (the folder's lock keeps any earlier process
   * stopped by then).
   */
  constructor(
    private readonly listing: CrlListing,
    private readonly keyId: string,
    private readonly store: CrlBaseStore | undefined,
    private readonly onError: (error: unknown) => void,
    private readonly openedAt: number,
  ) {
    const kept = store?.load();
    if (kept !== undefined && kept.keyId === keyId) {
      const keyCompromise = kept.keyCompromise !== undefined ? new Set(kept.keyCompromise) : undefined;
      this.#unplaced = { crlNumber: kept.crlNumber, listed: new Set(kept.serials), keyCompromise };
      if (kept.next !== undefined) {
        const { crlNumber, takesOverAt, serials } = kept.next;
        this.#unplacedNext = { crlNumber, takesOverAt, listed: new Set([...kept.serials, ...serials]), keyCompromise };
      }
    }
    this.#completeUntil = store?.completeUntil();
  }

  get saving(): Promise<unknown> {
    return this.#saving;
  }

  /** Whether the deltas have a base (placed or still to place): with none, the next complete CRL becomes it at once. */
  get known(): boolean {
    return this.#base !== undefined || this.#unplaced !== undefined;
  }

  /** The latest nextUpdate of any complete CRL signed: the newest a relying party can hold. */
  get completeUntil(): number | undefined {
    return this.#completeUntil;
  }

  /**
   * A complete CRL valid until `nextUpdate` is about to be signed. Kept before the signature, as the CRL number: a
   * CRL signed and not kept could let a next base take over while it is still valid.
   */
  completeSignedUntil(nextUpdate: number): void {
    if (nextUpdate <= (this.#completeUntil ?? -Infinity)) return;
    this.store?.keepCompleteUntil(nextUpdate);
    this.#completeUntil = nextUpdate;
  }

  /** The list is about to be read again (a rebuild): the base and the next stay, placed again by what they listed. */
  unplace(before: EntryBuffer): void {
    const keyCompromise = new Set(before.keyCompromiseBefore(Math.max(this.#base?.index ?? 0, this.#next?.index ?? 0)));
    if (this.#base !== undefined) this.#unplaced = { crlNumber: this.#base.crlNumber, listed: new Set(before.serialsBefore(this.#base.index)), keyCompromise };
    if (this.#next !== undefined) {
      const { crlNumber, takesOverAt, index } = this.#next;
      this.#unplacedNext = { crlNumber, takesOverAt, listed: new Set(before.serialsBefore(index)), keyCompromise };
    }
    this.#base = undefined;
    this.#next = undefined;
  }

  /** Drops the entries expired long enough (`EntryBuffer.dropExpired`), keeping where the deltas start; returns how many. */
  dropExpired(thisUpdate: number, keepMs: number): number {
    const entries = this.listing.entries;
    const positions = [this.#base?.index ?? 0, this.#next?.index ?? 0];
    const dropped = entries.dropExpired(thisUpdate, keepMs, positions);
    if (dropped > 0) {
      if (this.#base !== undefined) this.#base = { ...this.#base, index: positions[0]!, offset: entries.offsetOf(positions[0]!) };
      if (this.#next !== undefined) this.#next = { ...this.#next, index: positions[1]!, offset: entries.offsetOf(positions[1]!) };
    }
    return dropped;
  }

  /**
   * The entry of `serial` replaced by `entry` (its reason raised to keyCompromise) and moved past where the deltas
   * start, so that every delta lists it (RFC 5280 5.2.4: a delta lists what changed since its base, a reason code
   * too). Kept so: the serials the base is kept by are those before it, no longer this one. A raise this process
   * never moved (a stop before the publisher read it, OCSP answering first) is told after a restart by the kept
   * keyCompromise serials: an entry saying keyCompromise that the base listed otherwise is listed by the deltas
   * (EntryBuffer.firstNotIn). A base still to place does not count it as listed either.
   */
  raise(serial: string, entry: Uint8Array): void {
    const entries = this.listing.entries;
    const positions = [this.#base?.index ?? 0, this.#next?.index ?? 0];
    if (!entries.moveToEnd(serial, entry, positions)) return;
    if (this.#base !== undefined) this.#base = { ...this.#base, index: positions[0]!, offset: entries.offsetOf(positions[0]!) };
    if (this.#next !== undefined) this.#next = { ...this.#next, index: positions[1]!, offset: entries.offsetOf(positions[1]!) };
    if (this.#unplaced !== undefined) this.#unplaced = { ...this.#unplaced, listed: without(this.#unplaced.listed, serial) };
    if (this.#unplacedNext !== undefined) this.#unplacedNext = { ...this.#unplacedNext, listed: without(this.#unplacedNext.listed, serial) };
    if (this.#base !== undefined) this.#keep();
  }

  /** No base was known: `signed`, a complete CRL just signed, is the base at once, and nothing kept before waits. */
  restartAt(signed: Base): void {
    this.#unplaced = undefined;
    this.#next = undefined;
    this.#unplacedNext = undefined;
    this.#base = { crlNumber: signed.crlNumber, index: signed.index, offset: signed.offset };
    this.#keep();
  }

  /** Whether the next base may take over: every complete CRL numbered below it has passed its nextUpdate. */
  takeOverDue(now: number): boolean {
    const takesOverAt = this.#next?.takesOverAt ?? this.#unplacedNext?.takesOverAt;
    return takesOverAt !== undefined && now >= takesOverAt;
  }

  /** The next base takes over when due (call on a placed base). */
  takeOverIfDue(now: number): void {
    if (!this.takeOverDue(now)) return;
    const { crlNumber, index, offset } = this.#next!;
    this.#next = undefined;
    this.#base = { crlNumber, index, offset };
    this.#keep();
  }

  /** Whether the deltas on the placed base list more than `rebaseAfter` entries and no next base is chosen yet. */
  wantsNext(rebaseAfter: number): boolean {
    return this.#next === undefined && this.listing.entries.count - this.#base!.index > rebaseAfter;
  }

  /**
   * `signed`, a complete CRL just signed, is the next base. `until`: the latest nextUpdate of the complete CRLs
   * signed before it (read before it was signed); with none known, its own validity after its thisUpdate. Never
   * before a validity after `openedAt` (review 264): a `completeUntil` file restored from a backup knows none of the
   * complete CRLs signed since, which relying parties may hold until then, and the deltas must stay on a base at or
   * below theirs.
   */
  chooseNext(signed: Base & { readonly thisUpdate: number }, until: number | undefined, validityMs: number): void {
    const takesOverAt = Math.max(until ?? signed.thisUpdate + validityMs, this.openedAt + validityMs);
    this.#next = { crlNumber: signed.crlNumber, index: signed.index, offset: signed.offset, takesOverAt };
    this.#keep();
  }

  /** The base, placed in the list if it was kept from before a restart or a rebuild; undefined when none is known. */
  placed(): Base | undefined {
    const entries = this.listing.entries;
    if (this.#base === undefined && this.#unplaced !== undefined) {
      // Every entry the base did not list is at or after this one: the deltas list those, and maybe a few it did.
      const index = entries.firstNotIn(this.#unplaced.listed, this.#unplaced.keyCompromise);
      this.#base = { crlNumber: this.#unplaced.crlNumber, index, offset: entries.offsetOf(index) };
      this.#unplaced = undefined;
    }
    if (this.#base !== undefined && this.#unplacedNext !== undefined) {
      const { crlNumber, takesOverAt, listed, keyCompromise } = this.#unplacedNext;
      // As for the base: its deltas list everything it did not (an entry listed by the base and since left may make
      // them start earlier, listing more).
      const index = entries.firstNotIn(listed, keyCompromise);
      this.#next = { crlNumber, takesOverAt, index, offset: entries.offsetOf(index) };
      this.#unplacedNext = undefined;
    }
    return this.#base;
  }

  /**
   * The base and the next, to the store. After the signature, never before: a base on disk names a CRL that was
   * issued. A failed write leaves an older base there, whose deltas after a restart list more, never less (and a
   * next base lost is chosen again, later): reported.
   */
  #keep(): void {
    const base = this.#base!;
    const next = this.#next;
    const until = Math.max(base.index, next?.index ?? 0);
    const serials = this.listing.entries.serialsBefore(until);
    try {
      const saved = this.store?.save({
        crlNumber: base.crlNumber,
        keyId: this.keyId,
        serials: serials.slice(0, base.index),
        keyCompromise: this.listing.entries.keyCompromiseBefore(until),
        ...(next !== undefined ? { next: { crlNumber: next.crlNumber, takesOverAt: next.takesOverAt, serials: serials.slice(base.index) } } : {}),
      });
      // Written in the background (review 157: seconds for a large CA), off the CRL and OCSP requests.
      this.#saving = (saved ?? Promise.resolve()).catch(this.onError);
    } catch (error) {
      this.onError(error);
    }
  }
}
