import type Database from 'better-sqlite3';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EventStore, StoreSubscription, SubscriptionStart } from '../../domain/ports/index.ts';
import { PKI_EVENT_TYPES, PKI_PROJECTION } from '../../projections/pki/index.ts';
import { readCheckpoint } from '../../projections/runtime/index.ts';

/** How long a `pki` event may wait for the read model before nothing more is signed from it: its usual lag is ms. */
export const PKI_OVERDUE_MS = 2_000;

/** How often the wait is looked at: a stuck read model is seen within PKI_OVERDUE_MS and this. */
const LOOK_EVERY_MS = 500;

/** How long after a subscription failed it is taken again. */
const RESUBSCRIBE_MS = 1_000;

/**
 * The `pki` events the log holds that the read model should have projected by now (review 110). The floor its
 * completeness asked for was set at start and by a rebuild only: a `pki` projection stuck while the service ran (a
 * full disk under `readmodels.db`, a lock held by another process, a damaged page) left the revocation stored and
 * acknowledged, while OCSP signed `good` for an hour at a time and the CRLs left it out, for as long as it stayed
 * stuck. Every `pki` event the store delivers is noted with when it came; one still past the read model's checkpoint
 * PKI_OVERDUE_MS later becomes the floor (`floor`): nothing is signed until the read model reaches it (OCSP
 * `tryLater`, the CRLs issued before), and `onStuck` drops what was signed and kept meanwhile (the OCSP answers cached).
 */
export class OverduePkiEvents {
  #pending: { readonly position: bigint; readonly at: number }[] = [];
  #floor: bigint | undefined;
  #subscription: StoreSubscription | undefined;
  #timer: NodeJS.Timeout | undefined;
  #last: bigint | undefined;
  #stopped = false;

  constructor(
    private readonly o: {
      readonly store: EventStore;
      readonly readModels: Database.Database;
      readonly now: () => number;
      readonly onStuck: () => void;
      readonly onError: (error: unknown) => void;
    },
  ) {}

  /**
   * Follows the store's `pki` events from now on, and looks at their wait every LOOK_EVERY_MS. A subscription that ends
   * in an error is taken again after the last event it delivered, a second later, as the live runtime does (review
   * 111: one failed read ended the following for good, and OCSP signed `good` again over a stuck read model).
   */
  start(): void {
    // Where "from now on" begins, asked before the first subscription so that it is never past that subscription's start:
    // one that fails before its first event is taken again after it, not from the end again, which skipped the events
    // appended between (a revocation a stuck read model never reached, and OCSP signing `good` over it). The store's own
    // head: on EventStoreDB the head of $all may be another application's record, which a scavenge removes.
    const startHead = this.startHead();
    /** Where a subscription taken again before any event begins: after the head of the start, its start when empty. */
    let resumeFrom: SubscriptionStart = { kind: 'end' };
    const subscribe = (): StoreSubscription =>
      this.o.store.subscribeToAll({
        from: this.#last === undefined ? resumeFrom : { kind: 'after', position: this.#last },
        filter: { eventTypes: [...PKI_EVENT_TYPES] },
      });
    // The first is taken now, so that a closed store refuses the start itself.
    let subscription: StoreSubscription | undefined = subscribe();
    void (async () => {
      while (!this.#stopped) {
        try {
          if (subscription === undefined && this.#last === undefined) resumeFrom = await startHead;
          this.#subscription = subscription ??= subscribe();
          for await (const event of subscription) {
            this.#last = event.position;
            this.#pending.push({ position: event.position, at: this.o.now() });
          }
        } catch (error) {
          if (!this.#stopped) this.o.onError(error);
        }
        subscription = undefined;
        if (!this.#stopped) await sleep(RESUBSCRIBE_MS, undefined, { ref: false });
      }
    })();
    this.#timer = setInterval(() => this.look(), LOOK_EVERY_MS);
    this.#timer.unref();
  }

  /** After the store's own head now; its start when it holds none; the end, as before, when the head cannot be read. */
  private startHead(): Promise<SubscriptionStart> {
    const { store } = this.o;
    const end: SubscriptionStart = { kind: 'end' };
    try {
      return (store.ownHeadPosition?.() ?? store.headPosition()).then(
        (head): SubscriptionStart => (head === undefined ? { kind: 'start' } : { kind: 'after', position: head }),
        () => end,
      );
    } catch {
      return Promise.resolve(end);
    }
  }

  /** The position the read model must reach before anything is signed from it again; undefined while none is overdue. */
  floor(): bigint | undefined {
    return this.#floor;
  }

  /** Moves the floor to the newest event waiting longer than PKI_OVERDUE_MS, when the read model has not reached it. */
  look(): void {
    // A read model closed before this was stopped (a library's order) is not stuck.
    if (!this.o.readModels.open) return;
    const due = this.o.now() - PKI_OVERDUE_MS;
    let waited = 0;
    while (waited < this.#pending.length && this.#pending[waited]!.at <= due) waited++;
    if (waited === 0) return;
    const newest = this.#pending[waited - 1]!.position;
    this.#pending.splice(0, waited);
    try {
      const reached = readCheckpoint(this.o.readModels, PKI_PROJECTION)?.position;
      if (reached !== undefined && reached >= newest) return;
    } catch (error) {
      // A read model that cannot even be read is stuck too.
      this.o.onError(error);
    }
    if (this.#floor !== undefined && this.#floor >= newest) return;
    this.#floor = newest;
    this.o.onStuck();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#subscription?.unsubscribe();
  }
}
