import type { RecordedEvent } from '../../domain/ports/event-store.ts';
import type { ClaimTuple, EntityTuple } from '../../projections/replay/checkpoint.ts';
import type { FactRevision } from '../../projections/replay/fact-timeline.ts';
import type { VerifierTally } from '../../projections/replay/verifier.ts';

/** What the pool sends a replay worker. */
export type ToWorker =
  | { readonly type: 'records'; readonly records: readonly RecordedEvent[] }
  /** First pass: this partition's fact revisions (guessed without the facts of other partitions). */
  | { readonly type: 'speculate' }
  /** Second pass: every guard, facts from the timeline made of this partition's revisions and `revisions`. */
  | { readonly type: 'verify'; readonly revisions: readonly FactRevision[] }
  /** The final entities and held claims, for a checkpoint. */
  | { readonly type: 'state' };

/** What a replay worker answers. */
export type FromWorker =
  | { readonly type: 'speculated'; readonly revisions: readonly FactRevision[] }
  | {
      readonly type: 'verified';
      /** Both passes refused the same fact events: the timeline was exact, and so is this verdict. */
      readonly consistent: boolean;
      readonly tally: VerifierTally;
      readonly states: Record<string, Record<string, number>>;
      readonly position: bigint;
    }
  | { readonly type: 'state'; readonly entities: readonly EntityTuple[]; readonly claims: readonly ClaimTuple[] };
