/**
 * One lane per stream: work for one stream runs one at a time, in arrival order; work for different streams runs
 * concurrently (issue 15 item 2). The engine decides a command inside its target stream's lane, so two callers of
 * this process never race each other to the same expected revision: the second decides on the first's outcome.
 */
export class StreamLanes {
  /** The settling promise of the last work queued per stream; gone once that stream is idle. */
  readonly #tails = new Map<string, Promise<void>>();

  run<T>(streamId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(streamId);
    const result = previous === undefined ? work() : previous.then(work);
    // The lane moves on whether the work succeeded or failed; the caller sees the failure through `result`. The
    // settled tail leaves the map in the same callback (one promise and one closure per command, not three of each).
    const settled = (): undefined => {
      if (this.#tails.get(streamId) === tail) this.#tails.delete(streamId);
      return undefined;
    };
    const tail: Promise<void> = result.then(settled, settled);
    this.#tails.set(streamId, tail);
    return result;
  }

  /** Streams with work queued or running (for metrics and tests). */
  get busy(): number {
    return this.#tails.size;
  }
}
