/**
 * The revokedCertificates entries of one CA, DER, back to back in one growing buffer: appending an entry is a copy
 * of its bytes (amortised: the buffer doubles when full), and a CRL takes a view of a range, whatever the number of
 * entries before it.
 */
export class EntryBuffer {
  #bytes = new Uint8Array(4096);
  #length = 0;
  #count = 0;

  get length(): number {
    return this.#length;
  }

  /** Entries held. */
  get count(): number {
    return this.#count;
  }

  append(entry: Uint8Array): void {
    if (this.#length + entry.length > this.#bytes.length) {
      let size = this.#bytes.length * 2;
      while (size < this.#length + entry.length) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.#bytes.subarray(0, this.#length));
      this.#bytes = grown;
    }
    this.#bytes.set(entry, this.#length);
    this.#length += entry.length;
    this.#count++;
  }

  /** The bytes from `offset` to the end (a view: valid until the next append). */
  from(offset: number): Uint8Array {
    return this.#bytes.subarray(offset, this.#length);
  }

  clear(): void {
    this.#bytes = new Uint8Array(4096);
    this.#length = 0;
    this.#count = 0;
  }
}
