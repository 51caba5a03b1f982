/**
 * The cap on concurrent SSE streams per principal (issue 12; SER-001): each stream holds a socket, a store
 * subscription and a timer, so one token must not be able to open them without bound.
 */
export class StreamSlots {
  /** Each principal's holders, oldest first: what `takeOver` ends. */
  private readonly open = new Map<string, Set<{ readonly takenOver?: () => void }>>();

  constructor(private readonly maxPerPrincipal: number) {
    if (!Number.isSafeInteger(maxPerPrincipal) || maxPerPrincipal < 1) throw new Error('maxPerPrincipal: must be a positive integer');
  }

  /**
   * A release function (idempotent), or undefined when `principal` already holds every slot. `takenOver` is how
   * this holder is ended when a newer stream of the same principal takes its place (`takeOver`); it must release.
   */
  acquire(principal: string, takenOver?: () => void): (() => void) | undefined {
    const holders = this.open.get(principal) ?? new Set();
    if (holders.size >= this.maxPerPrincipal) return undefined;
    const holder = takenOver === undefined ? {} : { takenOver };
    holders.add(holder);
    this.open.set(principal, holders);
    return () => {
      if (!holders.delete(holder)) return;
      if (holders.size === 0 && this.open.get(principal) === holders) this.open.delete(principal);
    };
  }

  /** Ends the principal's oldest stream that can be taken over; false when none can. */
  takeOver(principal: string): boolean {
    for (const holder of this.open.get(principal) ?? []) {
      if (holder.takenOver === undefined) continue;
      holder.takenOver();
      return true;
    }
    return false;
  }

  held(principal: string): number {
    return this.open.get(principal)?.size ?? 0;
  }
}
