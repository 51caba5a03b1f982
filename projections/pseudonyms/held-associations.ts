import type { CopyStep } from './fold-copy.ts';

/**
 * The associations a pseudonymised stream's fold still needs (SER-001): each from its configuration until no frame can
 * name it any more. After its end the cascade may still record it on its holders (its credential, its node and, for
 * an AE, its App-ID: recorded at its establishment, released at its end), and those frames name it; a holder that
 * ended records nothing more (a final state takes no command). So an association is kept until it ended and each
 * holder it was established on released it or ended itself; one never established, until its end.
 */

/** The holders the cascade records an established association on, and releases it from once it ends (one bit each). */
export const HOLDER = { credential: 1, node: 2, app: 4 } as const;
export type Holder = (typeof HOLDER)[keyof typeof HOLDER];

/** An association while a frame may still name it. */
interface Entry {
  readonly node: string;
  readonly credential: string;
  readonly app: string | undefined;
  ended: boolean;
  /** HOLDER bits of the holders that may still record its release. */
  holders: number;
}

/**
 * Whose end a holder's is: a node's, a credential's or an App-ID's. Associations are indexed by each holder, so a
 * holder's end visits its own associations only: found among its node's, or all of them for an App-ID, 20,000 AE
 * associations of one gateway each with its own credential took 32.6 s of every stream's fold (review 45).
 */
export type EndedHolder =
  | { readonly holder: typeof HOLDER.node; readonly id: string }
  | { readonly holder: typeof HOLDER.credential; readonly id: string }
  | { readonly holder: typeof HOLDER.app; readonly id: string };

export class HeldAssociations {
  readonly #entries = new Map<string, Entry>();
  /** Associations by node. */
  readonly #of = new Map<string, Set<string>>();
  /** Associations by credential. */
  readonly #byCredential = new Map<string, Set<string>>();
  /** AE associations by App-ID. */
  readonly #byApp = new Map<string, Set<string>>();
  /** Associations a holder's end visited, in all (work done, for tests and diagnostics; not copied). */
  #visited = 0;

  /** Each map of an empty `into` beside this one's, with how to copy a value. */
  pairsWith(into: HeldAssociations): CopyStep[] {
    return [
      [into.#entries, this.#entries, (entry) => ({ ...(entry as Entry) })],
      [into.#of, this.#of, (ids) => new Set(ids as Set<string>)],
      [into.#byCredential, this.#byCredential, (ids) => new Set(ids as Set<string>)],
      [into.#byApp, this.#byApp, (ids) => new Set(ids as Set<string>)],
    ];
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Entries of the index by holder. */
  get indexed(): number {
    let n = 0;
    for (const ids of this.#of.values()) n += ids.size;
    for (const ids of this.#byCredential.values()) n += ids.size;
    for (const ids of this.#byApp.values()) n += ids.size;
    return n;
  }

  /** Associations a holder's end visited so far. */
  get visited(): number {
    return this.#visited;
  }

  /** Whether a kept association names the credential. */
  names(credentialId: string): boolean {
    return this.#byCredential.has(credentialId);
  }

  nodeOf(associationId: string): string | undefined {
    return this.#entries.get(associationId)?.node;
  }


  /** Configured on `node` with `credential`, for `app`'s instance if an AE's. */
  configured(associationId: string, node: string, credential: string, app: string | undefined): void {
    if (this.#entries.has(associationId)) return;
    this.#entries.set(associationId, { node, credential, app, ended: false, holders: 0 });
    add(this.#of, node, associationId);
    add(this.#byCredential, credential, associationId);
    if (app !== undefined) add(this.#byApp, app, associationId);
  }

  /** Established: each holder that has not ended (`ended(holder, its id)`) records it from now on, and will release it. */
  established(associationId: string, ended: (holder: Holder, id: string) => boolean): void {
    const entry = this.#entries.get(associationId);
    if (entry === undefined) return;
    entry.holders =
      (ended(HOLDER.credential, entry.credential) ? 0 : HOLDER.credential) |
      (ended(HOLDER.node, entry.node) ? 0 : HOLDER.node) |
      (entry.app === undefined || ended(HOLDER.app, entry.app) ? 0 : HOLDER.app);
  }

  /** Expired or revoked; `unreachable` is given the ids no frame can name any more. */
  ended(associationId: string, unreachable: (associationId: string) => void): void {
    const entry = this.#entries.get(associationId);
    if (entry === undefined) return;
    entry.ended = true;
    if (entry.holders === 0) unreachable(associationId);
  }

  /** A holder recorded its release of the association. */
  releasedBy(associationId: string, holder: Holder, unreachable: (associationId: string) => void): void {
    const entry = this.#entries.get(associationId);
    if (entry === undefined || !entry.ended) return;
    entry.holders &= ~holder;
    if (entry.holders === 0) unreachable(associationId);
  }

  /** A holder ended: none of its associations waits for its release any more. */
  holderEnded(ended: EndedHolder, unreachable: (associationId: string) => void): void {
    // Its own associations only; `unreachable` changes no index (they are dropped after the frame).
    const index = ended.holder === HOLDER.node ? this.#of : ended.holder === HOLDER.credential ? this.#byCredential : this.#byApp;
    for (const associationId of index.get(ended.id) ?? []) {
      this.#visited++;
      const entry = this.#entries.get(associationId)!;
      const its = ended.holder === HOLDER.node ? entry.node : ended.holder === HOLDER.credential ? entry.credential : entry.app;
      if (its !== ended.id || (entry.holders & ended.holder) === 0) continue;
      entry.holders &= ~ended.holder;
      if (entry.ended && entry.holders === 0) unreachable(associationId);
    }
  }

  /** Lets the association go; answers its credential (undefined if it was not kept). */
  drop(associationId: string): string | undefined {
    const entry = this.#entries.get(associationId);
    if (entry === undefined) return undefined;
    this.#entries.delete(associationId);
    remove(this.#of, entry.node, associationId);
    remove(this.#byCredential, entry.credential, associationId);
    if (entry.app !== undefined) remove(this.#byApp, entry.app, associationId);
    return entry.credential;
  }
}

const add = (index: Map<string, Set<string>>, key: string, associationId: string): void => {
  let ids = index.get(key);
  if (ids === undefined) index.set(key, (ids = new Set()));
  ids.add(associationId);
};

const remove = (index: Map<string, Set<string>>, key: string, associationId: string): void => {
  const ids = index.get(key);
  if (ids === undefined) return;
  ids.delete(associationId);
  if (ids.size === 0) index.delete(key);
};
