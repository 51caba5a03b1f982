import type { CopyStep } from './fold-copy.ts';

/**
 * Which node each credential belongs to, as the cascade binds them (identities.ts folds it): a credential bound to a
 * node changes pseudonym with it. Bounded by the live fleet (SER-001): one that ended is let go once no kept
 * association names it and no rotation to it stands.
 */
export class CredentialOwners {
  /** Credentials: the node each belongs to. */
  readonly #owner = new Map<string, string>();
  /** Credentials of `#owner` that ended (revoked or expired). */
  readonly #ended = new Set<string>();
  /**
   * Rotations that stand, predecessor to successor, from their start until abandoned or their predecessor ends: the
   * predecessor's abandonment names the successor, so the successor is kept while one stands, though it or its node
   * ended (review 45: forgotten, it was named in its form of no node, a second pseudonym in one epoch).
   */
  readonly #rotations = new Map<string, string>();
  /** The successors of `#rotations`, each with the number of standing rotations to it. */
  readonly #successors = new Map<string, number>();
  /**
   * Credentials issued to an AE-ID, not yet bound to a node: one binds to the node of the first association configured
   * with it, and changes pseudonym with that node from then on. Not to the AE-ID's last holder: two live nodes may use
   * one AE-ID, and the credential would then name one node's epochs while the other used it (found in review). One
   * issued as the successor of a bound credential is bound to its predecessor's node at issue, and one named in a
   * rotation beside a bound credential to that credential's node: its frames name both (review 45).
   */
  readonly #awaitingAe = new Set<string>();

  /** Each map and set of an empty `into` beside this one's, with how to copy a value. */
  pairsWith(into: CredentialOwners): CopyStep[] {
    return [
      [into.#owner, this.#owner],
      [into.#ended, this.#ended],
      [into.#rotations, this.#rotations],
      [into.#successors, this.#successors],
      [into.#awaitingAe, this.#awaitingAe],
    ];
  }

  /** Credentials that have a node, ended ones included. */
  get size(): number {
    return this.#owner.size;
  }

  get endedCount(): number {
    return this.#ended.size;
  }

  /** AE credentials waiting for the node of the first association configured with them. */
  get awaiting(): number {
    return this.#awaitingAe.size;
  }

  nodeOf(credentialId: string): string | undefined {
    return this.#owner.get(credentialId);
  }

  /** The credential is `nodeId`'s, and changes pseudonym with it. */
  bind(credentialId: string, nodeId: string): void {
    this.#owner.set(credentialId, nodeId);
  }

  /** Issued to an AE-ID, as the successor of `predecessorId` if a rotation's. */
  issuedToAe(credentialId: string, predecessorId: string | undefined): void {
    // A successor is its predecessor's node's: the frame names both, and a stable name beside a node's would
    // link the node's epochs (review 45).
    const node = predecessorId === undefined ? undefined : this.#owner.get(predecessorId);
    if (node !== undefined) this.bind(credentialId, node);
    else this.#awaitingAe.add(credentialId);
  }

  /** A credential waiting for a node is `nodeId`'s from now on; any other is left as it is. */
  bindAwaiting(credentialId: string, nodeId: string): void {
    if (this.#awaitingAe.delete(credentialId)) this.bind(credentialId, nodeId);
  }

  /** The credential waits for a node no more. */
  stopAwaiting(credentialId: string): void {
    this.#awaitingAe.delete(credentialId);
  }

  /** A rotation from `predecessorId` to `successorId` stands; any from `predecessorId` before was ended (`rotationEnded`). */
  rotationStarted(predecessorId: string, successorId: string): void {
    this.#rotations.set(predecessorId, successorId);
    this.#successors.set(successorId, (this.#successors.get(successorId) ?? 0) + 1);
    // The frames of the rotation (its start, its abandonment) name both credentials: one still bound to no node
    // takes the other's node.
    const node = this.#owner.get(predecessorId) ?? this.#owner.get(successorId);
    if (node === undefined) return;
    this.bindAwaiting(predecessorId, node);
    this.bindAwaiting(successorId, node);
  }

  /** The rotation from `predecessorId`, if one stands, is over: its successor, returned, may be let go. */
  rotationEnded(predecessorId: string): string | undefined {
    const successorId = this.#rotations.get(predecessorId);
    if (successorId === undefined) return undefined;
    this.#rotations.delete(predecessorId);
    const left = (this.#successors.get(successorId) ?? 1) - 1;
    if (left > 0) this.#successors.set(successorId, left);
    else this.#successors.delete(successorId);
    return successorId;
  }

  /** Expired or revoked: whether it has a node (then it may be let go). */
  ended(credentialId: string): boolean {
    if (!this.#owner.has(credentialId)) return false;
    this.#ended.add(credentialId);
    return true;
  }

  hasEnded(credentialId: string): boolean {
    return this.#ended.has(credentialId);
  }

  /**
   * A credential that ended, once no kept association names it (`named`) and no rotation to it stands, whether or not
   * its node ended: no event names it any more (an ended credential's stream takes no event, a successor names a live
   * predecessor only, an association only a live credential), but the abandonment of a rotation to it from a live
   * predecessor (review 45: forgotten then, it was named in its form of no node, a second pseudonym in one epoch), and
   * the raise of its revocation's reason to keyCompromise (review 210: the caller's `named` says yes while one may come).
   * A live node's ended credentials used to stay (1,000 rotations on one live node: 999 ended credentials in every
   * copy of the fold, review 45).
   */
  forget(credentialId: string, named: (credentialId: string) => boolean): void {
    if (!this.#ended.has(credentialId) || this.#successors.has(credentialId) || named(credentialId)) return;
    this.#ended.delete(credentialId);
    this.#owner.delete(credentialId);
  }
}
