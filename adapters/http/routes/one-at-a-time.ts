import { HttpProblem } from '../problems.ts';

/**
 * Runs jobs one at a time, in arrival order, with at most `maxWaiting` waiting behind the one running; one more is
 * refused at once (429 `busy`, Retry-After) rather than queued without bound. The pattern of FleetReplayer's
 * serialised runs (a tail promise each job chains on, a failure not passed to the next), without its sharing: each
 * caller here asks for its own entity.
 */
export class OneAtATime {
  #tail: Promise<unknown> = Promise.resolve();
  #pending = 0;

  constructor(
    /** What the jobs are, for the refusal: "evidence bundles". */
    private readonly what: string,
    private readonly maxWaiting: number,
    private readonly retryAfterSeconds: number,
  ) {
    if (!Number.isInteger(maxWaiting) || maxWaiting < 0) throw new RangeError(`maxWaiting must be a whole number, got ${maxWaiting}`);
  }

  /** Jobs running or waiting. */
  get pending(): number {
    return this.#pending;
  }

  run<T>(job: () => Promise<T>): Promise<T> {
    // One running plus `maxWaiting` behind it: `pending` counts both.
    if (this.#pending > this.maxWaiting) {
      return Promise.reject(
        new HttpProblem(
          429,
          'busy',
          `${this.#pending} ${this.what} are being built or waiting, one at a time; retry in ${this.retryAfterSeconds} s`,
          { pending: this.#pending },
          { 'retry-after': String(this.retryAfterSeconds) },
        ),
      );
    }
    this.#pending++;
    const run = this.#tail.then(job).finally(() => this.#pending--);
    this.#tail = run.catch(() => undefined);
    return run;
  }
}
