/**
 * The cap on concurrent SSE streams per principal (issue 12; SER-001): each stream holds a socket, a store
 * subscription and a timer, so one token must not be able to open them without bound. A service-wide cap is the same
 * thing under one key for everyone (routes/events.ts: canonical and pseudonymised streams).
 */
export class StreamSlots {
  private readonly open = new Map<string, number>();

  constructor(private readonly maxPerPrincipal: number) {
    if (!Number.isSafeInteger(maxPerPrincipal) || maxPerPrincipal < 1) throw new Error('maxPerPrincipal: must be a positive integer');
  }

  /** A release function (idempotent), or undefined when `principal` already holds every slot. */
  acquire(principal: string): (() => void) | undefined {
    const held = this.open.get(principal) ?? 0;
    if (held >= this.maxPerPrincipal) return undefined;
    this.open.set(principal, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const now = (this.open.get(principal) ?? 1) - 1;
      if (now === 0) this.open.delete(principal);
      else this.open.set(principal, now);
    };
  }

  held(principal: string): number {
    return this.open.get(principal) ?? 0;
  }
}
