/**
 * One lane per node for on-demand rotations: those of one node run one at a time, in arrival order; those of
 * different nodes run concurrently. Overlapping demands of one node each aimed at the epoch after the one the
 * directory showed, so all but one found it taken and walked on from there, a walk that grew with the overlap until
 * it ran out (review 94). In its lane, a rotation starts after the one before it was recorded. The engine's
 * StreamLanes (adapters/engine/stream-lanes.ts) is the same pattern; projections/ does not import from adapters/.
 */
export class NodeLanes {
  /** The settling promise of the last work queued per node; gone once that node is idle. */
  readonly #tails = new Map<string, Promise<void>>();

  run<T>(nodeId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(nodeId);
    const result = previous === undefined ? work() : previous.then(work);
    // The lane moves on whether the work succeeded or failed; the caller sees the failure through `result`.
    const settled = (): undefined => {
      if (this.#tails.get(nodeId) === tail) this.#tails.delete(nodeId);
      return undefined;
    };
    const tail: Promise<void> = result.then(settled, settled);
    this.#tails.set(nodeId, tail);
    return result;
  }

  /** Nodes with a rotation queued or running (for tests). */
  get busy(): number {
    return this.#tails.size;
  }
}

/** Nodes whose latest recorded epoch `RecordedEpochs` keeps when no other size is given. */
export const RECORDED_EPOCHS_KEPT = 4_096;

/** A node's latest rotation this process found stored: its epoch, and its time where this process recorded it. */
export interface NotedRotation {
  readonly epoch: number;
  /** Epoch ms the rotation was recorded at; unknown for one found taken (another's, the directory behind). */
  readonly at: number | undefined;
}

/**
 * The highest epoch this process found stored for each node it rotated lately (one it recorded, or one it found
 * taken): the directory, a read model, lags behind the store under load, so a rotation starts past the greater of
 * the two. Bounded, least recently noted first out: a node forgotten only costs a walk from the directory's epoch.
 * Never ahead of the store, since only stored epochs are noted.
 */
export class RecordedEpochs {
  readonly #latest = new Map<string, NotedRotation>();

  constructor(readonly kept: number = RECORDED_EPOCHS_KEPT) {
    if (!Number.isSafeInteger(kept) || kept < 1) throw new RangeError('kept: must be a whole number >= 1');
  }

  /** `at`: when the rotation to `epoch` was recorded, where known; a time noted for an epoch is kept. */
  note(nodeId: string, epoch: number, at?: number): void {
    const known = this.#latest.get(nodeId);
    // Delete then set: a Map iterates in insertion order, so the first key is the least recently noted.
    this.#latest.delete(nodeId);
    const newer = known === undefined || epoch > known.epoch || (epoch === known.epoch && known.at === undefined);
    this.#latest.set(nodeId, newer ? { epoch, at } : known);
    if (this.#latest.size > this.kept) this.#latest.delete(this.#latest.keys().next().value!);
  }

  latest(nodeId: string): number | undefined {
    return this.#latest.get(nodeId)?.epoch;
  }

  /** The node's latest rotation noted, with its time where known. */
  latestRotation(nodeId: string): NotedRotation | undefined {
    return this.#latest.get(nodeId);
  }
}
