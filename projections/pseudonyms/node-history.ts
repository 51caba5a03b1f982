import type { CopyStep } from './fold-copy.ts';

/**
 * What the integrators' fold keeps of every node ever seen (identities.ts folds it): its epoch, whether it ended and
 * the subscription it was last enrolled under. Not let go with the live fleet: one entry each per node (SER-001).
 */
export class NodeHistory {
  readonly #epoch = new Map<string, number>();
  /** Nodes revoked or whose enrolment expired: an association stored after takes no CSE-ID back for them. */
  readonly #ended = new Set<string>();
  /**
   * The subscription each node was last enrolled under (a scoped stream's membership, public-scope.ts), until another
   * enrolment: what a node owns still ends after the node does (the cascade's revocations, expiries), and those
   * endings are that stakeholder's. One entry per node ever enrolled, as `#ended` keeps one per node ended.
   */
  readonly #enrolment = new Map<string, string>();
  /**
   * Nodes moved to another subscription (RS-17) that no rotation folded has followed yet: in no subscription's scope
   * until one does (subscriptionOf), since they are named under the pseudonyms the old subscription saw. The rotation's
   * reaction records one at once (rotation.ts); where none comes (the node revoked first, a move stored before that
   * reaction existed), the node stays out of every scope: fail closed (reviews 366, 369; SER-025). One entry per node
   * between its move and its next rotation.
   */
  readonly #moved = new Set<string>();

  /** Each map and set of an empty `into` beside this one's. */
  pairsWith(into: NodeHistory): CopyStep[] {
    return [
      [into.#epoch, this.#epoch],
      [into.#ended, this.#ended],
      [into.#enrolment, this.#enrolment],
      [into.#moved, this.#moved],
    ];
  }

  get epochs(): number {
    return this.#epoch.size;
  }

  get endedCount(): number {
    return this.#ended.size;
  }

  get enrolments(): number {
    return this.#enrolment.size;
  }

  /**
   * Enrolled under the subscription: a move to another (RS-17) ends the one before at once, and the node is in no
   * scope until its next rotation. The same subscription again is no move.
   */
  enrolled(nodeId: string, subscriptionId: string): void {
    const before = this.#enrolment.get(nodeId);
    if (before !== undefined && before !== subscriptionId) this.#moved.add(nodeId);
    this.#enrolment.set(nodeId, subscriptionId);
  }

  /** Revoked, or its enrolment expired. */
  ended(nodeId: string): void {
    this.#ended.add(nodeId);
  }

  hasEnded(nodeId: string): boolean {
    return this.#ended.has(nodeId);
  }

  /**
   * Its pseudonyms rotated to `epoch`; an epoch not after the one it has changes nothing. A moved node is back in its
   * subscription's scope after any rotation but its first (`initial`, recorded perhaps after the move, takes the epoch
   * it was named under before it: nothing the old subscription did not see).
   */
  rotated(nodeId: string, epoch: number, initial = false): void {
    if (epoch <= (this.#epoch.get(nodeId) ?? -1)) return;
    this.#epoch.set(nodeId, epoch);
    if (!initial) this.#moved.delete(nodeId);
  }

  /** Its latest rotation so far, or 0 before its first (epoch 0 is what the first rotation takes). */
  epochOf(nodeId: string): number {
    return this.#epoch.get(nodeId) ?? 0;
  }

  /** Its latest rotation so far, or undefined before its first. */
  rotatedTo(nodeId: string): number | undefined {
    return this.#epoch.get(nodeId);
  }

  /** The subscription it was last enrolled under; none while it is moved and not rotated since (#moved). */
  subscriptionOf(nodeId: string): string | undefined {
    return this.#moved.has(nodeId) ? undefined : this.#enrolment.get(nodeId);
  }
}
