import type { RecordedEvent } from '../../domain/ports/event-store.ts';
import type { ClaimTuple, EntityTuple } from '../../projections/replay/checkpoint.ts';
import type { FactRevision } from '../../projections/replay/fact-timeline.ts';
import type { VerifierTally } from '../../projections/replay/verifier.ts';

/**
 * Where a worker reads its partition itself instead of receiving it (a store with a file): `module` exports
 * `readEventsDbRange` (adapters/driven/store/sqlite/events-db-reader.ts), chosen by the caller that opened the store.
 */
export interface PartitionSource {
  readonly module: string;
  readonly file: string;
}

/** What the pool sends a replay worker. */
export type ToWorker =
  /** Read this partition's records of $all up to `head` from `source` (every row is counted, only these parsed). */
  | { readonly type: 'read'; readonly source: PartitionSource; readonly head: bigint; readonly partition: number; readonly count: number }
  | { readonly type: 'records'; readonly records: readonly RecordedEvent[] }
  /** First pass: this partition's fact revisions (guessed without the facts of other partitions). */
  | { readonly type: 'speculate' }
  /** Second pass: every guard, facts from the timeline made of this partition's revisions and `revisions`. */
  | { readonly type: 'verify'; readonly revisions: readonly FactRevision[] }
  /** The final entities and held claims, for a checkpoint. */
  | { readonly type: 'state' };

/** What a replay worker answers. */
export type FromWorker =
  /** Rows walked up to the head, and the position and event id of the last one. */
  | { readonly type: 'read'; readonly rows: number; readonly last: bigint; readonly lastId: string }
  | { readonly type: 'speculated'; readonly revisions: readonly FactRevision[] }
  | {
      readonly type: 'verified';
      /** Both passes refused the same fact events: the timeline was exact, and so is this verdict. */
      readonly consistent: boolean;
      readonly tally: VerifierTally;
      readonly states: Record<string, Record<string, number>>;
      readonly position: bigint;
      /** This worker thread's CPU time so far, ms (Linux: /proc/thread-self/stat); undefined where it cannot be read. */
      readonly threadCpuMs: number | undefined;
    }
  | { readonly type: 'state'; readonly entities: readonly EntityTuple[]; readonly claims: readonly ClaimTuple[] };
