/** One request asked for: its signal, and whether it is still the latest asked for. */
export interface Asked {
  readonly signal: AbortSignal;
  /** False once another request was asked for, or all were cancelled: its answer must then change nothing shown. */
  readonly current: () => boolean;
}

/**
 * The latest of a kind of request a page makes (a bundle fetched or a file read; a CSV download): asking anew aborts
 * the one before, and only the latest may set what the page shows. An abort alone does not do it: a file's bytes, or
 * an answer already received, are not stopped by a signal (review 277: an earlier fetch's "Verified." replaced the
 * verdict of the file loaded after it).
 */
export class LatestRequest {
  #controller = new AbortController();
  #count = 0;

  /** A new request: the one before is aborted, and is not current from now on. */
  next(): Asked {
    this.cancel();
    const count = this.#count;
    const signal = this.#controller.signal;
    return { signal, current: () => count === this.#count && !signal.aborted };
  }

  /** None is current: the one under way is aborted (the page is left, or asked for something that needs no request). */
  cancel(): void {
    this.#controller.abort();
    this.#controller = new AbortController();
    this.#count++;
  }
}
