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
 * sees an event altered in the store behind the kept verifier). Runs are serialised: a `full` one asked while another
 * full one is running or queued shares it, and a plain one shares any run running or queued (a plain one first): its
 * verdict answers a plain request as well as a run of its own queued behind it would, for less.
 *
 * The verdict itself (counts, findings in order and their causes: verifier.ts summarise) is kept with the position the
 * verifier had reached, and given again while a run moves it no further (review 420: with no new event, every request
 * sorted and linked every finding again, 4.3 s of blocked event loop at 300,000 findings). Any record appended moves
 * the position, and a full run starts a new verifier; the rules are the running machines' (a new version is a restart).
 */
export class FleetReplayer {
  /** The verifier of the last verdict, kept while the next run advances it; undefined only before one or after a failed run. */
  #verifier: FleetVerifier | undefined;
  #tail: Promise<unknown> = Promise.resolve();
  readonly #running = new Map<boolean, Promise<ReplayerVerdict>>();
  /** The last verdict, of #verifier as it stood at `position`. */
  #kept: { readonly verifier: FleetVerifier; readonly position: bigint; readonly findings: number; readonly replay: FleetReplay } | undefined;

  constructor(private readonly store: EventStore) {}

  verdict(options: { readonly full?: boolean } = {}): Promise<ReplayerVerdict> {
    const asked = options.full === true;
    // Whether a verdict exists decides a plain run's kind, not a field a run in flight cleared (review 242: a plain
    // verdict asked during an incremental run queued a whole re-verification behind it).
    const shared = asked ? this.#running.get(true) : (this.#running.get(false) ?? this.#running.get(true));
    if (shared !== undefined) return shared;
    const full = asked || this.#verifier === undefined;
    const run = this.#tail.then(() => this.#run(full)).finally(() => this.#running.delete(full));
    this.#running.set(full, run);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #run(full: boolean): Promise<ReplayerVerdict> {
    const kept = this.#verifier;
    const verifier = full || kept === undefined ? new FleetVerifier() : kept;
    const before = verifier.tally.events;
    try {
      await verifyFrom(this.store, verifier);
    } catch (error) {
      // A failed run leaves no half-advanced verifier behind: the next one starts from 0. A full run's failure left
      // the kept verifier as it was (it read into a new one).
      if (verifier === kept) this.#verifier = undefined;
      throw error;
    }
    this.#verifier = verifier;
    return { replay: this.#verdictOf(verifier), mode: before === 0 ? 'full' : 'incremental', verifiedNow: verifier.tally.events - before };
  }

  /** The verdict of `verifier` as it stands: the kept one while it has not moved on since. */
  #verdictOf(verifier: FleetVerifier): FleetReplay {
    const kept = this.#kept;
    const { position } = verifier;
    const findings = verifier.tally.findings.length;
    if (kept !== undefined && kept.verifier === verifier && kept.position === position && kept.findings === findings) return kept.replay;
    const replay = verifier.verdict();
    this.#kept = { verifier, position, findings, replay };
    return replay;
  }
}
