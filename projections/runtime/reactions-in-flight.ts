import type { ReactionInFlight } from './types.ts';

/** The reactions of one transaction left running (Projection.react), each with its event's index in the batch. */
export class ReactionsInFlight {
  readonly #running: { readonly index: number; readonly settled: Promise<void> }[] = [];

  get size(): number {
    return this.#running.length;
  }

  add(index: number, reaction: ReactionInFlight): void {
    // Settled (and its failure read) before the transaction ends; never an unhandled rejection meanwhile.
    reaction.settled.catch(() => undefined);
    this.#running.push({ index, settled: reaction.settled });
  }

  /**
   * Waits for every one of them; then the earliest event whose reaction failed, with its error (the events before it
   * are the ones a commit may keep), or undefined when all succeeded. Undefined at once when none was left in flight:
   * without a turn of the microtask queue, so that a transaction with none stays open no longer than it did before
   * reactions could be left in flight (another connection of this process waiting synchronously for the write lock
   * blocks the event loop the transaction needs to commit).
   */
  firstFailure(): Promise<Failed | undefined> | undefined {
    return this.#running.length === 0 ? undefined : this.#firstOf(this.#running);
  }

  async #firstOf(running: readonly { readonly index: number; readonly settled: Promise<void> }[]): Promise<Failed | undefined> {
    const outcomes = await Promise.allSettled(running.map((r) => r.settled));
    // Added in the order of their events: the first failed is the earliest.
    for (let k = 0; k < outcomes.length; k++) {
      const outcome = outcomes[k]!;
      if (outcome.status === 'rejected') return { index: running[k]!.index, error: outcome.reason };
    }
    return undefined;
  }
}

/** A reaction left in flight that failed: its event's index in the batch, and its error. */
export interface Failed {
  readonly index: number;
  readonly error: unknown;
}

/**
 * What a reaction left in flight rejects with when it finds it has to write to the read model after all (the cascade's
 * dead letter): it may not (Projection.react), since what it writes must sit among the events' own writes in their
 * order. The runner then handles the events before its event, and goes on from that event, whose reaction the
 * projection runs in its turn this time: a step of the catch-up, not a failure.
 */
export class ReactionInTurn extends Error {
  constructor(what: string) {
    super(`${what}: handled again in its turn`);
    this.name = 'ReactionInTurn';
  }
}
