/** One key's place in the order: a link of a list threaded through the map's values. */
interface Slot<V> {
  readonly key: string;
  value: V;
  older: Slot<V> | undefined;
  newer: Slot<V> | undefined;
}

/**
 * Values by key in the order they were last set, oldest first: the entity cache's least-recently-used order.
 * A use moves its key to the newest end by relinking its slot, not by `Map.delete` and `Map.set`: with tens of
 * thousands of keys those two cost about a microsecond per use (the table's random buckets, and a rehash of the whole
 * table every few thousand uses to drop the deleted slots), and the cache moved two to four keys per command (issue
 * 15, twenty-seventh round). The map changes only when a key comes or goes. Nothing iterates the map, so no iterator
 * keeps its old tables, or the values they held, alive.
 */
export class RecencyList<V> {
  readonly #slots = new Map<string, Slot<V>>();
  #oldest: Slot<V> | undefined;
  #newest: Slot<V> | undefined;

  get size(): number {
    return this.#slots.size;
  }

  has(key: string): boolean {
    return this.#slots.has(key);
  }

  /** The value, leaving the order as it is. */
  get(key: string): V | undefined {
    return this.#slots.get(key)?.value;
  }

  /** Sets the value and makes the key the newest; returns the value it replaced. */
  set(key: string, value: V): V | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) {
      this.#link({ key, value, older: undefined, newer: undefined }, true);
      return undefined;
    }
    const replaced = slot.value;
    slot.value = value;
    if (slot !== this.#newest) {
      this.#unlink(slot);
      this.#link(slot, false);
    }
    return replaced;
  }

  /** Removes the key; returns its value. */
  delete(key: string): V | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) return undefined;
    this.#slots.delete(key);
    this.#unlink(slot);
    return slot.value;
  }

  /** Removes the oldest key; returns its value. */
  shift(): V | undefined {
    const slot = this.#oldest;
    if (slot === undefined) return undefined;
    this.#slots.delete(slot.key);
    this.#unlink(slot);
    return slot.value;
  }

  #link(slot: Slot<V>, isNew: boolean): void {
    slot.older = this.#newest;
    slot.newer = undefined;
    if (this.#newest === undefined) this.#oldest = slot;
    else this.#newest.newer = slot;
    this.#newest = slot;
    if (isNew) this.#slots.set(slot.key, slot);
  }

  #unlink(slot: Slot<V>): void {
    if (slot.older === undefined) this.#oldest = slot.newer;
    else slot.older.newer = slot.newer;
    if (slot.newer === undefined) this.#newest = slot.older;
    else slot.newer.older = slot.older;
    slot.older = undefined;
    slot.newer = undefined;
  }
}
