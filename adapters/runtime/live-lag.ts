/** Events counted behind per component at most: past this, a component is simply "far behind". */
export const LAG_COUNT_LIMIT = 100_000;

export interface Lag {
  readonly eventsBehind: number;
  /** Set when the count stopped at its limit (LAG_COUNT_LIMIT): the lag is at least `eventsBehind` (review 398). */
  readonly eventsBehindAtLeast?: true;
  readonly secondsBehind: number;
}

/** The index of the first of `positions` (ascending) after `position`: a binary search. */
export const firstAfter = (positions: readonly bigint[], position: bigint): number => {
  let lo = 0;
  let hi = positions.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (positions[mid]! <= position) lo = mid + 1;
    else hi = mid;
  }
  return lo;
};

/**
 * What the live runtime's lag figures are made of, kept without reading the store: the positions the live
 * subscription delivered (with when they arrived), trimmed as soon as every component has handled them, so a
 * component's lag is a binary search. Events stored before the runtime started are counted once, at start, for a
 * component behind the head then, until its first pass has handled them (live-backlog.ts): nothing is counted per
 * event once every component follows live.
 */
export class LagTracker {
  #positions: bigint[] = [];
  #arrivals: number[] = [];
  #head: bigint | undefined;
  // Positions seen once the list held LAG_COUNT_LIMIT, not kept (review 416): how many, the first (and when it
  // arrived) and the last. All lie after the list's; while any is unhandled by all, later ones are dropped too.
  #dropped = 0;
  #firstDropped = 0n;
  #firstDroppedAt = 0;
  #lastDropped = 0n;

  get head(): bigint | undefined {
    return this.#head;
  }

  /** An event appended at `position` was seen at `at` (epoch ms). */
  seen(position: bigint, at: number): void {
    if (this.#head !== undefined && position <= this.#head) return;
    this.#head = position;
    // A component stuck this far behind is reported at least at the limit; the list does not grow past it, and what it
    // does not keep is counted, so that a count after a trim still says it (review 416).
    if (this.#dropped > 0 || this.#positions.length >= LAG_COUNT_LIMIT) {
      if (this.#dropped === 0) {
        this.#firstDropped = position;
        this.#firstDroppedAt = at;
      }
      this.#dropped++;
      this.#lastDropped = position;
      return;
    }
    this.#positions.push(position);
    this.#arrivals.push(at);
  }

  /** Forgets what every component has handled. */
  trim(handledByAll: bigint | undefined): void {
    if (handledByAll === undefined) return;
    // Every dropped position handled: the list (before them) is too, and it keeps positions again.
    if (this.#dropped > 0 && handledByAll >= this.#lastDropped) this.#dropped = 0;
    const k = firstAfter(this.#positions, handledByAll);
    if (k === 0) return;
    this.#positions.splice(0, k);
    this.#arrivals.splice(0, k);
  }

  /**
   * Seen events after `handled`: how many, and the arrival of the oldest. While positions dropped at the limit are
   * after `handled`, the count is at least (`atLeast`): the kept ones after it and the dropped ones not at or before it
   * (positions ascend, so at most `handled - firstDropped + 1` of them are), exact when the positions are gapless.
   */
  after(handled: bigint | undefined): { readonly count: number; readonly oldest: number | undefined; readonly atLeast?: true } {
    const k = handled === undefined ? 0 : firstAfter(this.#positions, handled);
    const kept = this.#positions.length - k;
    if (this.#dropped === 0 || (handled !== undefined && handled >= this.#lastDropped)) return { count: kept, oldest: this.#arrivals[k] };
    const passed = handled === undefined || handled < this.#firstDropped ? 0n : handled - this.#firstDropped + 1n;
    const dropped = passed >= BigInt(this.#dropped) ? 1 : this.#dropped - Number(passed);
    return { count: kept + dropped, oldest: kept > 0 ? this.#arrivals[k] : this.#firstDroppedAt, atLeast: true };
  }

}

/**
 * A component's lag from what is counted of it: at most LAG_COUNT_LIMIT events, and said at least that when the count
 * hit it (the tracker keeps no more positions, a start backlog reads no further), not as the exact lag (review 398);
 * `atLeast` says so of a count under the limit (a start backlog whose read stopped there: StartBacklog `atLeast`; the
 * tracker's count once it dropped positions and trimmed: LagTracker `after`, review 416).
 */
export const lagOf = (events: number, oldest: number | undefined, now: number, atLeast = false): Lag => ({
  eventsBehind: Math.min(events, LAG_COUNT_LIMIT),
  ...(atLeast || events >= LAG_COUNT_LIMIT ? { eventsBehindAtLeast: true as const } : {}),
  secondsBehind: events === 0 || oldest === undefined ? 0 : Math.max(0, (now - oldest) / 1000),
});
