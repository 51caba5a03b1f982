import type { ReactionInFlight } from './types.ts';

/** The reactions of one transaction left running (Projection.react), each with its event's index in the batch. */
export class ReactionsInFlight {
  readonly #running: { readonly index: number; readonly settled: Promise<void> }[] = [];

  add(index: number, reaction: ReactionInFlight): void {
    // Settled (and its failure read) before the transaction ends; never an unhandled rejection meanwhile.
    reaction.settled.catch(() => undefined);
    this.#running.push({ index, settled: reaction.settled });
  }

  /**
   * Waits for every one of them; then the earliest event whose reaction failed, with its error (the events before it
   * are the ones a commit may keep), or undefined when all succeeded.
   */
  async firstFailure(): Promise<{ readonly index: number; readonly error: unknown } | undefined> {
    const outcomes = await Promise.allSettled(this.#running.map((r) => r.settled));
    // Added in the order of their events: the first failed is the earliest.
    for (let k = 0; k < outcomes.length; k++) {
      const outcome = outcomes[k]!;
      if (outcome.status === 'rejected') return { index: this.#running[k]!.index, error: outcome.reason };
    }
    return undefined;
  }
}
