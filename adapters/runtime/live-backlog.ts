import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { EventStore } from '../../domain/ports/event-store.ts';
import type { ProjectionLag, ProjectionRunner } from '../../projections/runtime/index.ts';
import type { Follower } from './live-followers.ts';
import { later } from './live-handled.ts';
import { firstAfter, LAG_COUNT_LIMIT } from './live-lag.ts';
import type { Credence } from './credence.ts';

/** Records counted between two turns of the event loop: the embedded store reads synchronously. */
const PAGE = 1000;

/** What a component had still to handle when the runtime started, as it stands once it has handled `handled`. */
export interface StartBacklog {
  /**
   * The position the count covers: an event the subscription delivered up to it is in the count already (or is none
   * of the component's), so the live lag counts only those after it.
   */
  readonly through: bigint;
  /**
   * `atLeast`: the count stopped where its read did (LAG_COUNT_LIMIT records, some passed over), so it is a floor
   * even under the limit (review 398; lagOf's `atLeast`).
   */
  after(handled: bigint | undefined): { readonly count: number; readonly oldest: number | undefined; readonly atLeast?: true };
}

/**
 * The transparency log's: every event stored after its newest leaf up to the head read at start, counted once (at
 * most LAG_COUNT_LIMIT, as the live lag is bounded). Positions are kept so that the count falls as its catch-up
 * commits leaves (a fresh log is the longest first catch-up there is), and it is read while it is counted.
 */
class LogBacklog implements StartBacklog {
  readonly #positions: bigint[] = [];
  readonly #occurred: number[] = [];

  constructor(readonly through: bigint) {}

  /** Counted to the limit: the log is "far behind" until its first pass ends. */
  get #full(): boolean {
    return this.#positions.length >= LAG_COUNT_LIMIT;
  }

  push(position: bigint, occurred: number): void {
    this.#positions.push(position);
    this.#occurred.push(occurred);
  }

  after(handled: bigint | undefined): { readonly count: number; readonly oldest: number | undefined } {
    const k = handled === undefined || this.#full ? 0 : firstAfter(this.#positions, handled);
    const count = this.#positions.length - k;
    const oldest = this.#occurred[k];
    return { count, oldest: count === 0 || oldest === undefined || Number.isNaN(oldest) ? undefined : oldest };
  }
}

/** Counts the events after `from` up to `head` into `backlog` (one bounded read, a turn of the event loop per page). */
const countLogBacklog = async (store: EventStore, from: bigint | undefined, head: bigint, backlog: LogBacklog): Promise<void> => {
  let counted = 0;
  for await (const record of store.readAll({ ...(from !== undefined ? { afterPosition: from } : {}), maxCount: LAG_COUNT_LIMIT })) {
    if (record.position > head) break;
    backlog.push(record.position, Date.parse(String(record.metadata['occurredAt'])));
    if (++counted % PAGE === 0) await yieldToLoop();
  }
};

/**
 * The runner's checks (a read model of another log, one built under other rules), run before the backlogs are
 * counted: each may reset a read model to position 0, and its old checkpoint, counted before, said it caught up (or
 * nearly) all through its rebuild from the whole log. Each check runs once per runner and keeps its answer, so after
 * the service's (adapters/http/read-model-rebuilds.ts, which says them at warn) nothing is checked again. A failure
 * (the store unreachable, a refusal of other rules) is left to the read model's first pass, which runs the same check
 * and reports it under the read model's name; one refused read model does not keep the others unchecked.
 */
export const checkReadModels = async (runner: Pick<ProjectionRunner, 'names' | 'checkLog' | 'checkRules'>): Promise<void> => {
  await runner.checkLog().catch(() => undefined);
  for (const name of runner.names) await runner.checkRules([name]).catch(() => undefined);
};

/**
 * Counts, before the first passes, what each component is behind the head read at start, into `backlogs`. The live
 * lag counts only what the subscription delivers: without this a component rebuilding the whole log read as 0 events
 * behind until its first pass ended (/metrics included). A read model's is `runner.lag` (its own event types, read by
 * their index: nothing parsed for one caught up, as on most restarts), constant until its pass ends; the log's falls.
 * Each says how far it counted (`through`): what the subscription delivered up to there is counted once, in it.
 * A checkpoint past that head is another log's: nothing of this one is handled.
 */
export const countStartBacklogs = async (
  { store, runner, transparency }: Pick<Credence, 'store' | 'runner' | 'transparency'>,
  followers: readonly Follower[],
  head: bigint,
  backlogs: Map<Follower, StartBacklog>,
  report: (component: string, error: unknown) => void,
  counted: readonly ProjectionLag[] = [],
): Promise<void> => {
  for (const f of followers) {
    const from = f.handledThrough !== undefined && f.handledThrough <= head ? f.handledThrough : undefined;
    if (from === head) continue;
    try {
      if (f.name === 'transparency' && transparency !== undefined) {
        // Read while it is counted: the lag rises to the log's distance page by page, rather than reading 0 meanwhile.
        const backlog = new LogBacklog(head);
        backlogs.set(f, backlog);
        await countLogBacklog(store, from, head, backlog);
      } else {
        const lag = countedAsItIs(counted, f, head) ?? (await runner.lag(f.name, LAG_COUNT_LIMIT));
        // runner.lag says how far apart its last handled and the newest event occurred, not when the first unhandled
        // one did: the age is taken from that, growing from now on as the other components' ages do.
        const behind = {
          count: lag.eventsBehind,
          oldest: lag.eventsBehind === 0 ? undefined : Date.now() - lag.secondsBehind * 1000,
          ...(lag.eventsBehindAtLeast === true ? { atLeast: true as const } : {}),
        };
        // It counts up to the head it read before counting, its own bound (`lag.head`: no event after it is in the
        // count, every one of its types up to it is), not the head read at start: the events appended in between are
        // in it, and the subscription, which counts from the start's head, counts only those past that bound. One
        // position both sides use, so whatever the order of the count, the appends and the deliveries, each event is
        // counted once (a head read apart from the count, after it, could fall short of an event it counted, which
        // was then counted twice, or pass one appended after it, counted by neither).
        backlogs.set(f, { through: later(head, lag.head) ?? head, after: () => behind });
      }
    } catch (error) {
      report(f.name, error);
    }
    // Each count is a read of the log: the probes answer between them.
    await yieldToLoop();
  }
};

/**
 * A lag counted before the start (`LiveOptions.counted`) from the checkpoint the follower holds, up to a head the
 * store has not moved past since: the same count a read now would make. Otherwise undefined (counted again).
 */
const countedAsItIs = (counted: readonly ProjectionLag[], f: Follower, head: bigint): ProjectionLag | undefined => {
  const lag = counted.find((l) => l.name === f.name);
  return lag !== undefined && lag.checkpoint === f.handledThrough && lag.head !== undefined && lag.head >= head ? lag : undefined;
};

/**
 * Where the transparency log is while its pass runs: its newest leaf, committed per page (`handledThrough` moves
 * only once a pass ends). A failing log (of another log, refused) is counted from what the runtime holds it
 * handled, not from the positions of another log it holds.
 */
export const progressOf = ({ transparency }: Pick<Credence, 'transparency'>, f: Follower): bigint | undefined => {
  if (f.error !== undefined || f.name !== 'transparency' || transparency === undefined) return f.handledThrough;
  try {
    return transparency.position;
  } catch {
    return f.handledThrough;
  }
};
