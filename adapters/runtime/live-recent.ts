import type { RecordedEvent } from '../../domain/ports/event-store.ts';

/** Records kept at most: past this, the oldest go and a component that far behind reads the store instead. */
export const RECENT_LIMIT = 10_000;

/**
 * The events the live runtime's one subscription delivered, kept until every component has handled them, so that
 * each component is fed them instead of reading the store again (one read per projection and per wake-up was most
 * of the service's work). The subscription delivers every event of $all after where it started, in order, with
 * no gap: the records held are exactly the events after `base` up to the newest, and `after(p)` can answer only for
 * p >= base. Bounded: beyond `RECENT_LIMIT` the oldest are dropped and `base` moves up.
 */
export class RecentEvents {
  #base: bigint;
  #records: RecordedEvent[] = [];

  /** `base`: the position the subscription starts after (0n for the start of the store). */
  constructor(base: bigint) {
    this.#base = base;
  }

  /** The next event the subscription delivered (in order; one already held is ignored). */
  push(record: RecordedEvent): void {
    if (record.position <= this.newest) return;
    this.#records.push(record);
    if (this.#records.length > RECENT_LIMIT) this.#drop(this.#records.length - RECENT_LIMIT / 2);
  }

  /** Position of the newest event held (`base` when none). */
  get newest(): bigint {
    return this.#records.at(-1)?.position ?? this.#base;
  }

  /**
   * Every event after `handled` up to the newest delivered, with that newest position; undefined when some of them
   * are not held (older than `base`): read the store.
   */
  after(handled: bigint | undefined): { readonly records: readonly RecordedEvent[]; readonly through: bigint } | undefined {
    const from = handled ?? 0n;
    if (from < this.#base) return undefined;
    return { records: this.#records.slice(this.#firstAfter(from)), through: this.newest };
  }

  /** Forgets what every component has handled. */
  trim(handledByAll: bigint | undefined): void {
    if (handledByAll !== undefined) this.#drop(this.#firstAfter(handledByAll));
  }

  #drop(count: number): void {
    if (count <= 0) return;
    this.#base = this.#records[count - 1]!.position;
    this.#records.splice(0, count);
  }

  #firstAfter(position: bigint): number {
    let lo = 0;
    let hi = this.#records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#records[mid]!.position <= position) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
