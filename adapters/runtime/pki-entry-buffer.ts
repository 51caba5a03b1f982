/**
 * Whether an entry first listed beyond its certificate's expiry at `listedBeyondExpiry` (NaN: not yet) leaves the
 * complete CRL issued at `thisUpdate` (RFC 5280 5.1.2.6, one CRL validity `keepMs` later): for good, no CRL after it
 * lists it again.
 */
export const leavesTheList = (listedBeyondExpiry: number, thisUpdate: number, keepMs: number): boolean =>
  thisUpdate >= listedBeyondExpiry + keepMs;

/**
 * The revokedCertificates entries of one CA, DER, back to back in one growing buffer: appending an entry is a copy
 * of its bytes (amortised: the buffer doubles when full), and a CRL takes a view of a range, whatever the number of
 * entries before it. Each entry keeps its certificate's notAfter and the thisUpdate of the first complete CRL issued
 * beyond it, so that expired entries can leave the list (RFC 5280 5.1.2.6, `dropExpired`).
 */
export class EntryBuffer {
  #bytes = new Uint8Array(4096);
  #length = 0;
  /** Per entry, in order: its DER length, its certificate's notAfter (epoch ms), and when it was first listed after it (NaN: not yet). */
  #sizes: number[] = [];
  #notAfter: number[] = [];
  #listedBeyondExpiry: number[] = [];
  /** Per entry, its certificate's serial (hex): what the marks are kept by across restarts. */
  #serials: string[] = [];
  /** Per entry, whether it says keyCompromise: a base keeps which it listed so (a raise since is listed by the deltas). */
  #keyCompromise: boolean[] = [];
  /** The earliest notAfter held (Infinity: none): `markListed` and `dropExpired` look no further while it is in the future. */
  #earliest = Infinity;

  get length(): number {
    return this.#length;
  }

  /** Entries held. */
  get count(): number {
    return this.#sizes.length;
  }

  /**
   * `listedBeyondExpiry`: a mark kept from before a restart (crl-expiry-marks.ts); NaN: not listed beyond expiry yet.
   * `keyCompromise`: whether the entry's reason is keyCompromise.
   */
  append(entry: Uint8Array, notAfter: number, serial: string, listedBeyondExpiry = Number.NaN, keyCompromise = false): void {
    if (this.#length + entry.length > this.#bytes.length) {
      let size = this.#bytes.length * 2;
      while (size < this.#length + entry.length) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.#bytes.subarray(0, this.#length));
      this.#bytes = grown;
    }
    this.#bytes.set(entry, this.#length);
    this.#length += entry.length;
    this.#sizes.push(entry.length);
    this.#notAfter.push(notAfter);
    this.#listedBeyondExpiry.push(listedBeyondExpiry);
    this.#serials.push(serial);
    this.#keyCompromise.push(keyCompromise);
    if (notAfter < this.#earliest) this.#earliest = notAfter;
  }

  /** Whether the entry of `serial` says keyCompromise; undefined when no entry holds `serial`. */
  keyCompromiseOf(serial: string): boolean | undefined {
    const i = this.#serials.indexOf(serial);
    return i === -1 ? undefined : this.#keyCompromise[i];
  }

  /** The serials of the entries before `index` that say keyCompromise, in order. */
  keyCompromiseBefore(index: number): string[] {
    return this.#serials.slice(0, index).filter((_, i) => this.#keyCompromise[i]);
  }

  /** The bytes from `offset` to the end (a view: valid until the next append or drop). */
  from(offset: number): Uint8Array {
    return this.#bytes.subarray(offset, this.#length);
  }

  /**
   * A complete CRL listing every entry was issued at `thisUpdate`: entries whose certificate had expired by then are
   * marked; returns the serials marked now (for the publisher to keep).
   */
  markListed(thisUpdate: number): string[] {
    const marked: string[] = [];
    if (!(this.#earliest < thisUpdate)) return marked;
    for (let i = 0; i < this.#sizes.length; i++) {
      if (this.#notAfter[i]! < thisUpdate && Number.isNaN(this.#listedBeyondExpiry[i]!)) {
        this.#listedBeyondExpiry[i] = thisUpdate;
        marked.push(this.#serials[i]!);
      }
    }
    return marked;
  }

  /** The byte offset of the entry at `index` (the length of the entries before it). */
  offsetOf(index: number): number {
    let offset = 0;
    for (let i = 0; i < index && i < this.#sizes.length; i++) offset += this.#sizes[i]!;
    return offset;
  }

  /** The serials of the entries before `index`, in order. */
  serialsBefore(index: number): string[] {
    return this.#serials.slice(0, index);
  }

  /**
   * The index of the first entry a base did not list (`count` when there is none): its serial not among `serials`, or
   * saying keyCompromise where the base listed it otherwise (not among `keyCompromise`: raised since; undefined, a base
   * kept before raises were: every entry saying keyCompromise).
   */
  firstNotIn(serials: ReadonlySet<string>, keyCompromise?: ReadonlySet<string>): number {
    const i = this.#serials.findIndex((serial, j) => !serials.has(serial) || (this.#keyCompromise[j]! && !(keyCompromise?.has(serial) ?? false)));
    return i === -1 ? this.#serials.length : i;
  }

  /**
   * Removes the entries first listed beyond their certificate's expiry at least `keepMs` before `thisUpdate`;
   * returns how many. One pass and one copy of what stays (the cost of assembling a complete CRL anyway).
   * `positions` (entry indices: where the deltas start) are moved in place to the same place among what stays.
   */
  dropExpired(thisUpdate: number, keepMs: number, positions: number[] = []): number {
    if (!(this.#earliest < thisUpdate - keepMs)) return 0;
    const moved = positions.map(() => -1);
    const bytes = new Uint8Array(this.#bytes.length);
    const sizes: number[] = [];
    const notAfter: number[] = [];
    const listed: number[] = [];
    const serials: string[] = [];
    const keyCompromise: boolean[] = [];
    let read = 0;
    let written = 0;
    let earliest = Infinity;
    for (let i = 0; i < this.#sizes.length; i++) {
      for (let p = 0; p < positions.length; p++) if (positions[p] === i) moved[p] = sizes.length;
      const size = this.#sizes[i]!;
      // NaN (never listed beyond expiry) compares false: kept.
      if (!leavesTheList(this.#listedBeyondExpiry[i]!, thisUpdate, keepMs)) {
        bytes.set(this.#bytes.subarray(read, read + size), written);
        written += size;
        sizes.push(size);
        notAfter.push(this.#notAfter[i]!);
        listed.push(this.#listedBeyondExpiry[i]!);
        serials.push(this.#serials[i]!);
        keyCompromise.push(this.#keyCompromise[i]!);
        if (this.#notAfter[i]! < earliest) earliest = this.#notAfter[i]!;
      }
      read += size;
    }
    const dropped = this.#sizes.length - sizes.length;
    for (let p = 0; p < positions.length; p++) positions[p] = moved[p] === -1 ? sizes.length : moved[p]!;
    if (dropped > 0) {
      this.#bytes = bytes;
      this.#length = written;
      this.#sizes = sizes;
      this.#notAfter = notAfter;
      this.#listedBeyondExpiry = listed;
      this.#serials = serials;
      this.#keyCompromise = keyCompromise;
    }
    this.#earliest = earliest;
    return dropped;
  }

  /**
   * The entry of `serial`, replaced by `entry` (its reason raised to keyCompromise) and moved to the end of the list,
   * where the deltas list what changed (RFC 5280 5.2.4: a delta CRL lists the entries changed since its base). `positions` (entry indices: where the deltas start) are moved in place to stay on the same entries. False
   * when no entry holds `serial`.
   */
  moveToEnd(serial: string, entry: Uint8Array, positions: number[] = []): boolean {
    const i = this.#serials.indexOf(serial);
    if (i === -1) return false;
    const offset = this.offsetOf(i);
    const size = this.#sizes[i]!;
    const notAfter = this.#notAfter[i]!;
    const listed = this.#listedBeyondExpiry[i]!;
    this.#bytes.copyWithin(offset, offset + size, this.#length);
    this.#length -= size;
    for (const list of [this.#sizes, this.#notAfter, this.#listedBeyondExpiry]) list.splice(i, 1);
    this.#serials.splice(i, 1);
    this.#keyCompromise.splice(i, 1);
    for (let p = 0; p < positions.length; p++) if (positions[p]! > i) positions[p] = positions[p]! - 1;
    this.append(entry, notAfter, serial, listed, true);
    return true;
  }

  clear(): void {
    this.#bytes = new Uint8Array(4096);
    this.#length = 0;
    this.#sizes = [];
    this.#notAfter = [];
    this.#listedBeyondExpiry = [];
    this.#serials = [];
    this.#keyCompromise = [];
    this.#earliest = Infinity;
  }
}
