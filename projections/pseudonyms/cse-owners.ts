import type { CopyStep } from './fold-copy.ts';

/**
 * Which node each CSE-ID belongs to, as the cascade assigns them (identities.ts folds it): claimed by the node that
 * enrols with it or configures an association naming it, let go when that node ends (SER-001). Credentials issued to
 * a CSE-ID that names no node wait here for the node that claims it.
 */
export class CseOwners {
  /** CSE-IDs: the node each belongs to. */
  readonly #owner = new Map<string, string>();
  /**
   * Credentials issued to a CSE-ID without naming its node (stored before review 41) no event had tied to a node
   * yet: they take the node that claims the CSE-ID.
   */
  readonly #waiting = new Map<string, string[]>();
  /** Each node's CSE-IDs, to let them go when it ends. */
  readonly #identifiersOf = new Map<string, Set<string>>();
  /** CSE-IDs an ended node let go: still named under its epoch, owned by no one else. */
  readonly #released = new Set<string>();

  /** Each map and set of an empty `into` beside this one's, with how to copy a value. */
  pairsWith(into: CseOwners): CopyStep[] {
    return [
      [into.#owner, this.#owner],
      [into.#waiting, this.#waiting, (credentials) => [...(credentials as string[])]],
      [into.#identifiersOf, this.#identifiersOf, (keys) => new Set(keys as Set<string>)],
      [into.#released, this.#released],
    ];
  }

  /** CSE-IDs that have a node (a released one keeps its ended node's). */
  get size(): number {
    return this.#owner.size;
  }

  /** Credentials waiting for the node that claims their CSE-ID. */
  get waitingCredentials(): number {
    return [...this.#waiting.values()].reduce((n, c) => n + c.length, 0);
  }

  get released(): number {
    return this.#released.size;
  }

  /** The node the CSE-ID is named under: its owner, or the ended node that let it go. */
  nodeOf(cseId: string): string | undefined {
    return this.#owner.get(cseId);
  }

  /** The node a credential issued to the CSE-ID now binds to: none once its node let it go. */
  holderOf(cseId: string): string | undefined {
    return this.#released.has(cseId) ? undefined : this.#owner.get(cseId);
  }

  /** Whether a node may claim the CSE-ID: no node has it, or its node let it go. */
  claimable(cseId: string): boolean {
    return !this.#owner.has(cseId) || this.#released.has(cseId);
  }

  /** A credential issued to the CSE-ID, without its node, waits for the node that claims it. */
  waitFor(cseId: string, credentialId: string): void {
    const waiting = this.#waiting.get(cseId);
    if (waiting === undefined) this.#waiting.set(cseId, [credentialId]);
    else waiting.push(credentialId);
  }

  /** The CSE-ID belongs to `nodeId` from now on; returns the credentials issued to it that were waiting (now the node's). */
  link(cseId: string, nodeId: string): readonly string[] {
    const before = this.#owner.get(cseId);
    if (before !== undefined) this.#identifiersOf.get(before)?.delete(cseId);
    this.#released.delete(cseId);
    this.#owner.set(cseId, nodeId);
    let own = this.#identifiersOf.get(nodeId);
    if (own === undefined) this.#identifiersOf.set(nodeId, (own = new Set()));
    own.add(cseId);
    const waiting = this.#waiting.get(cseId);
    if (waiting === undefined) return [];
    this.#waiting.delete(cseId);
    return waiting;
  }

  /** The ended node lets its CSE-IDs go (identities.ts `#release`). */
  release(nodeId: string): void {
    const own = this.#identifiersOf.get(nodeId);
    if (own === undefined) return;
    this.#identifiersOf.delete(nodeId);
    for (const cseId of own) this.#released.add(cseId);
  }
}
