import { HttpProblem } from '../problems.ts';

/**
 * Runs jobs one at a time, in arrival order, with at most `maxWaiting` waiting behind the one running; one more is
 * refused at once (429 `busy`, Retry-After) rather than queued without bound. The pattern of FleetReplayer's
 * serialised runs (a tail promise each job chains on, a failure not passed to the next), without its sharing: each
 * caller here asks for its own entity. A caller named to `run` has at most `maxPerCaller` jobs in it, running or
 * waiting: one principal keeping the whole queue held every other at 429 (review 175).
 */
export class OneAtATime {
  #tail: Promise<unknown> = Promise.resolve();
  #pending = 0;
  readonly #pendingOf = new Map<string, number>();

  constructor(
    /** What the jobs are, for the refusal: "evidence bundles". */
    private readonly what: string,
    private readonly maxWaiting: number,
    private readonly retryAfterSeconds: number,
    /** Jobs one caller may have running or waiting; default: the whole queue. */
    private readonly maxPerCaller: number = maxWaiting + 1,
  ) {
    if (!Number.isInteger(maxWaiting) || maxWaiting < 0) throw new RangeError(`maxWaiting must be a whole number, got ${maxWaiting}`);
    if (!Number.isInteger(maxPerCaller) || maxPerCaller < 1) throw new RangeError(`maxPerCaller must be a whole number of at least 1, got ${maxPerCaller}`);
  }

  /** Jobs running or waiting. */
  get pending(): number {
    return this.#pending;
  }

  /** Jobs of `caller` running or waiting. */
  pendingOf(caller: string): number {
    return this.#pendingOf.get(caller) ?? 0;
  }

  /** Runs `job` after those before it; `caller` (a principal's subject) is held to its share of the queue. */
  run<T>(job: () => Promise<T>, caller?: string): Promise<T> {
    // One running plus `maxWaiting` behind it: `pending` counts both.
    if (this.#pending > this.maxWaiting) {
      return Promise.reject(this.#busy(`${this.#pending} ${this.what} are being built or waiting, one at a time`, { pending: this.#pending }));
    }
    const own = caller === undefined ? 0 : this.pendingOf(caller);
    if (own >= this.maxPerCaller) {
      return Promise.reject(this.#busy(`${own} of your ${this.what} are being built or waiting, at most ${this.maxPerCaller} at a time`, { pending: own }));
    }
    this.#pending++;
    if (caller !== undefined) this.#pendingOf.set(caller, own + 1);
    const run = this.#tail.then(job).finally(() => {
      this.#pending--;
      if (caller !== undefined) this.#release(caller);
    });
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /** One job of `caller` ended; a caller with none left is forgotten, so the map holds only callers in the queue. */
  #release(caller: string): void {
    const left = this.pendingOf(caller) - 1;
    if (left > 0) this.#pendingOf.set(caller, left);
    else this.#pendingOf.delete(caller);
  }

  #busy(detail: string, extensions: { readonly pending: number }): HttpProblem {
    return new HttpProblem(429, 'busy', `${detail}; retry in ${this.retryAfterSeconds} s`, extensions, { 'retry-after': String(this.retryAfterSeconds) });
  }
}
