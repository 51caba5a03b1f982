import { RecencyList } from './recency-list.ts';

/**
 * Values by key, bounded by the bytes each says it holds: least recently set first out once `maxBytes` is passed. What
 * the entity cache and the hello lookups' memo (peek-memo.ts) keep their entries in.
 */
export class BoundedByBytes<V extends { readonly bytes: number }> {
  readonly #entries = new RecencyList<V>();
  #bytes = 0;
  #evictions = 0;

  constructor(readonly maxBytes: number) {}

  get size(): number {
    return this.#entries.size;
  }

  /** Estimated bytes of what is kept. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Values let go to stay within the bound, since construction. */
  get evictions(): number {
    return this.#evictions;
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** The value, leaving the order as it is. */
  get(key: string): V | undefined {
    return this.#entries.get(key);
  }

  /** Keeps `value` as the newest, the oldest going until the bound holds. */
  set(key: string, value: V): void {
    // A value larger than the whole bound is not kept: it would evict everything and then itself.
    if (value.bytes > this.maxBytes) {
      this.delete(key);
      return;
    }
    const previous = this.#entries.set(key, value);
    this.#bytes += value.bytes - (previous?.bytes ?? 0);
    while (this.#bytes > this.maxBytes) {
      const oldest = this.#entries.shift();
      if (oldest === undefined) break;
      this.#bytes -= oldest.bytes;
      this.#evictions += 1;
    }
  }

  delete(key: string): void {
    const previous = this.#entries.delete(key);
    if (previous !== undefined) this.#bytes -= previous.bytes;
  }
}
