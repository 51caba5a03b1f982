import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpProblem } from '../problems.ts';

/** `f`, run the first time only. */
const once = (f: () => void): (() => void) => {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    f();
  };
};

/**
 * Runs jobs one at a time, in arrival order, with at most `maxWaiting` waiting behind the one running; one more is
 * refused at once (429 `busy`, Retry-After) rather than queued without bound. The pattern of FleetReplayer's
 * serialised runs (a tail promise each job chains on, a failure not passed to the next), without its sharing: each
 * caller here asks for its own entity. A caller named to `run` has at most `maxPerCaller` jobs in it, running or
 * waiting: one principal keeping the whole queue held every other at 429 (review 175).
 *
 * A job given a `signal` (its client's request: `clientGone`) is the client's only while the client waits for it
 * (review 181: fetches the console abandoned held their caller's places, and its next fetch was refused 429). When the
 * signal aborts, a waiting job gives its place back at once and is skipped, its promise rejected with the signal's
 * reason; a running one gives back its caller's place but still holds the queue until it ends, as the server is still
 * building it (a bundle cannot be stopped half way), so jobs still run one at a time.
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

  /**
   * Runs `job` after those before it; `caller` (a principal's subject) is held to its share of the queue, and `signal`
   * (the client gone) gives the job's places back as the class says.
   */
  run<T>(job: () => Promise<T>, caller?: string, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted === true) return Promise.reject(signal.reason);
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
    // Each place given back once: the caller's when the job ends or its client goes; the queue's when the job ends,
    // or when its client goes before it starts (one started holds the queue to its end: the server is building it).
    let started = false;
    const callerPlace = once(() => caller !== undefined && this.#release(caller));
    const queuePlace = once(() => this.#pending--);
    let skip!: (reason: unknown) => void;
    const gone = new Promise<never>((_, reject) => (skip = reject));
    gone.catch(() => undefined);
    const onGone = (): void => {
      callerPlace();
      if (started) return;
      queuePlace();
      skip(signal!.reason);
    };
    signal?.addEventListener('abort', onGone, { once: true });
    const run = this.#tail
      .then(() => {
        if (signal?.aborted === true) return gone;
        started = true;
        return job();
      })
      .finally(() => {
        signal?.removeEventListener('abort', onGone);
        queuePlace();
        callerPlace();
      });
    this.#tail = run.catch(() => undefined);
    // A waiting job whose client went is answered at once, not when its turn comes.
    return signal === undefined ? run : Promise.race([run, gone]);
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

/**
 * What a job of a client that went away is rejected with. Nobody reads it: 499, nginx's "client closed request", so
 * the request's log line and metrics say what happened rather than a failure of the service.
 */
const clientClosed = (): HttpProblem => new HttpProblem(499, 'client_closed_request', 'the client closed its connection before the answer was ready');

/**
 * Runs `use` with a signal that aborts when the client of `req` goes before its answer: its response or its
 * connection closes (the connection too: a response queued behind another on it, pipelined, has no socket of its own
 * and is not told, adapters/http/sse/writer.ts). The listeners go when `use` ends: a kept-alive connection serves many.
 */
export const whileTheClientWaits = async <T>(req: IncomingMessage, res: ServerResponse, use: (signal: AbortSignal) => Promise<T>): Promise<T> => {
  const controller = new AbortController();
  const connection = req.socket;
  const onGone = (): void => controller.abort(clientClosed());
  // Gone already: its 'close' was emitted before anyone listened.
  if (res.destroyed || connection.destroyed) onGone();
  res.once('close', onGone);
  connection.once('close', onGone);
  try {
    return await use(controller.signal);
  } finally {
    res.off('close', onGone);
    connection.off('close', onGone);
  }
};
