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
   * Enrolments after a node's first (a move to another subscription, RS-17) that no rotation folded has followed yet,
   * by node: from such an enrolment's frame on the node is named under the epoch past its names before, which the
   * rotation's reaction to it records after the frame (rotation.ts; review 366). One entry per node between an
   * enrolment and the next rotation of it.
   */
  readonly #enrolledAgain = new Map<string, number>();

  /** Each map and set of an empty `into` beside this one's. */
  pairsWith(into: NodeHistory): CopyStep[] {
    return [
      [into.#epoch, this.#epoch],
      [into.#ended, this.#ended],
      [into.#enrolment, this.#enrolment],
      [into.#enrolledAgain, this.#enrolledAgain],
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

  /** Enrolled under the subscription: a move to another (RS-17) ends the one before at once. */
  enrolled(nodeId: string, subscriptionId: string): void {
    // Any enrolment after the first, as the rotation's reaction tells it (the node stream's revision past 1): a move,
    // or the same subscription again, which a rotation costs nothing to hide as well.
    if (this.#enrolment.has(nodeId)) this.#enrolledAgain.set(nodeId, (this.#enrolledAgain.get(nodeId) ?? 0) + 1);
    this.#enrolment.set(nodeId, subscriptionId);
  }

  /** Enrolments of the node after its first that no rotation folded has followed yet. */
  enrolmentsNotRotated(nodeId: string): number {
    return this.#enrolledAgain.get(nodeId) ?? 0;
  }

  /** Revoked, or its enrolment expired. */
  ended(nodeId: string): void {
    this.#ended.add(nodeId);
  }

  hasEnded(nodeId: string): boolean {
    return this.#ended.has(nodeId);
  }

  /**
   * Its pseudonyms rotated to `epoch`; an epoch not after the one it has changes nothing. A rotation other than its
   * first (`initial`, which may be recorded after an enrolment it reacted to nothing of) follows the earliest enrolment
   * not rotated yet: whichever rotation it is, it is past the names of the frames before that enrolment.
   */
  rotated(nodeId: string, epoch: number, initial = false): void {
    if (epoch <= (this.#epoch.get(nodeId) ?? -1)) return;
    this.#epoch.set(nodeId, epoch);
    const again = this.#enrolledAgain.get(nodeId);
    if (initial || again === undefined) return;
    if (again > 1) this.#enrolledAgain.set(nodeId, again - 1);
    else this.#enrolledAgain.delete(nodeId);
  }

  /** Its latest rotation so far, or 0 before its first (epoch 0 is what the first rotation takes). */
  epochOf(nodeId: string): number {
    return this.#epoch.get(nodeId) ?? 0;
  }

  /** Its latest rotation so far, or undefined before its first. */
  rotatedTo(nodeId: string): number | undefined {
    return this.#epoch.get(nodeId);
  }

  subscriptionOf(nodeId: string): string | undefined {
    return this.#enrolment.get(nodeId);
  }
}
