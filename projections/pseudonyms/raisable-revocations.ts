import type { CopyStep } from './fold-copy.ts';

const DAY = 86_400_000;

/**
 * Credentials revoked for another reason than keyCompromise: their stream takes one more event, the reason's raise to
 * keyCompromise (machines v5, `raisesToKeyCompromise`), so the fold keeps their node and App-ID until it (review 210:
 * let go at the first revocation, the raise was named as a credential of no node, a second pseudonym in one epoch,
 * and a subscription-scoped stream left it out). Bounded as the rest of the fold (SER-001): kept until the raise, or
 * until the day of the credential's notAfter has passed in the events' time (the machine takes no raise past the
 * notAfter), not for ever: every rotation revokes its predecessor as superseded (review 45). An
 * expired credential takes no revocation (its state is final), so is let go at its expiry as before.
 */
export class RaisableRevocations {
  /** Live credentials: the day of their notAfter (days since the epoch), read at issue. */
  readonly #notAfterDay = new Map<string, number>();
  /** Raisable credentials: the day of their notAfter (Infinity: a notAfter the fold never read). */
  readonly #raisable = new Map<string, number>();
  /** `#raisable` by the day of its notAfter: let go once a later day's event is observed. */
  readonly #byDay = new Map<number, Set<string>>();
  /** The day of the latest event observed with its instant (undefined before the first). */
  #today: number | undefined;

  /** Each map of an empty `into` beside this one's; `into` takes the day. */
  pairsWith(into: RaisableRevocations): CopyStep[] {
    into.#today = this.#today;
    return [
      [into.#notAfterDay, this.#notAfterDay],
      [into.#raisable, this.#raisable],
      [into.#byDay, this.#byDay, (v) => new Set(v as Set<string>)],
    ];
  }

  get size(): number {
    return this.#raisable.size;
  }

  issued(credentialId: string, notAfter: string | undefined): void {
    const ms = notAfter === undefined ? NaN : Date.parse(notAfter);
    if (!Number.isNaN(ms)) this.#notAfterDay.set(credentialId, Math.floor(ms / DAY));
  }

  has(credentialId: string): boolean {
    return this.#raisable.has(credentialId);
  }

  /**
   * The credential ended (`reason`: its revocation's; undefined: it expired). Whether it is kept for its raise: revoked
   * for another reason than keyCompromise, first, before its notAfter's day passed. Its raise, returned false, ends it.
   */
  ended(credentialId: string, reason: string | undefined): boolean {
    const raised = this.#raisable.get(credentialId);
    if (raised !== undefined) {
      this.#raisable.delete(credentialId);
      this.#byDay.get(raised)?.delete(credentialId);
      return false;
    }
    const day = this.#notAfterDay.get(credentialId) ?? Infinity;
    this.#notAfterDay.delete(credentialId);
    if (reason === undefined || reason === 'keyCompromise' || (this.#today !== undefined && day < this.#today)) return false;
    this.#raisable.set(credentialId, day);
    if (day !== Infinity) {
      const those = this.#byDay.get(day);
      if (those === undefined) this.#byDay.set(day, new Set([credentialId]));
      else those.add(credentialId);
    }
    return true;
  }

  /**
   * The events reached instant `at` (ms): the raisable credentials whose notAfter's day has passed, no longer raisable,
   * returned to be let go. Visits the days between two events, or the kept days where fewer (a long gap).
   */
  reached(at: number | undefined): string[] {
    if (at === undefined || Number.isNaN(at)) return [];
    const today = Math.floor(at / DAY);
    const since = this.#today;
    if (since !== undefined && today <= since) return [];
    this.#today = today;
    const days = since === undefined || today - since > this.#byDay.size ? [...this.#byDay.keys()].filter((d) => d < today) : range(since, today);
    const passed: string[] = [];
    for (const day of days) {
      const those = this.#byDay.get(day);
      if (those === undefined) continue;
      this.#byDay.delete(day);
      for (const credentialId of those) {
        this.#raisable.delete(credentialId);
        passed.push(credentialId);
      }
    }
    return passed;
  }
}

/** The days from `from` up to, not including, `to`. */
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
