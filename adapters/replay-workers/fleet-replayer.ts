import type { EventStore } from '../../domain/ports/event-store.ts';
import { verifyFrom } from '../../projections/replay/all.ts';
import { FleetVerifier, type FleetReplay } from '../../projections/replay/verifier.ts';

export interface ReplayerVerdict {
  readonly replay: FleetReplay;
  /** `incremental`: only the events since the previous verdict were verified now. */
  readonly mode: 'full' | 'incremental';
  readonly verifiedNow: number;
}

/**
 * The fleet verdict for a long-running process (the HTTP service): the verifier of the previous verdict is kept in
 * memory, so the next one verifies only the events appended since; `full` starts again from position 0 (which also
 * sees an event altered in the store behind the kept verifier). Runs are serialised, and callers asking for the same
 * kind of verdict while one runs share it.
 */
export class FleetReplayer {
  #verifier: FleetVerifier | undefined;
  #tail: Promise<unknown> = Promise.resolve();
  readonly #running = new Map<boolean, Promise<ReplayerVerdict>>();

  constructor(private readonly store: EventStore) {}

  verdict(options: { readonly full?: boolean } = {}): Promise<ReplayerVerdict> {
    const full = options.full === true || this.#verifier === undefined;
    let run = this.#running.get(full);
    if (run === undefined) {
      run = this.#tail.then(() => this.#run(full)).finally(() => this.#running.delete(full));
      this.#running.set(full, run);
      this.#tail = run.catch(() => undefined);
    }
    return run;
  }

  async #run(full: boolean): Promise<ReplayerVerdict> {
    const verifier = full || this.#verifier === undefined ? new FleetVerifier() : this.#verifier;
    const before = verifier.tally.events;
    // A failed run leaves no half-advanced verifier behind: the next one starts from 0.
    this.#verifier = undefined;
    await verifyFrom(this.store, verifier);
    this.#verifier = verifier;
    return { replay: verifier.verdict(), mode: before === 0 ? 'full' : 'incremental', verifiedNow: verifier.tally.events - before };
  }
}
