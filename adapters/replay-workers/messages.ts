import type { MessagePort } from 'node:worker_threads';
import type { RecordedEvent } from '../../domain/ports/event-store.ts';
import type { ClaimTuple, EntityTuple, RevisionTuple } from '../../projections/replay/checkpoint.ts';
import type { FactRevision } from '../../projections/replay/fact-timeline.ts';
import type { RecordRole } from '../../projections/replay/partition.ts';
import type { VerifierTally } from '../../projections/replay/verifier.ts';

/**
 * Where a worker reads its partition itself instead of receiving it (a store with a file): `module` exports
 * `readEventsDbRange` (adapters/driven/store/sqlite/events-db-reader.ts), chosen by the caller that opened the store.
 */
export interface PartitionSource {
  readonly module: string;
  readonly file: string;
}

/**
 * A worker thread's CPU time per phase, ms (NaN where the platform does not report it per thread): loading its code
 * (thread start-up and module imports), reading and decoding its records, the timeline guesses, the verdict passes.
 */
export interface WorkerCpu {
  load: number;
  read: number;
  speculate: number;
  verify: number;
}

/** What the pool sends a replay worker. */
export type ToWorker =
  /** Read this partition's records of $all up to `head` from `source` (every row is counted, only these parsed). */
  | {
      readonly type: 'read';
      readonly source: PartitionSource;
      readonly head: bigint;
      readonly partition: number;
      readonly count: number;
      /** Also answer each kept record's digest (record-digest.ts digestOfRecord), for the checkpoint's chained digest. */
      readonly digests: boolean;
    }
  /**
   * Records of this partition, each with what the partition does with it (`roles`, partition.ts `roleIn`), in the
   * same order.
   */
  | { readonly type: 'records'; readonly records: readonly RecordedEvent[]; readonly roles: readonly RecordRole[] }
  /** Ports to every other worker, over which the fact revisions of each round travel directly (PeerRevisions). */
  | { readonly type: 'peers'; readonly ports: readonly MessagePort[] }
  /** The command ids of this partition's events (CommandDigests), for the pool to find those recorded again store-wide. */
  | { readonly type: 'commands' }
  /**
   * The positions of this partition's events whose command id an earlier record of any partition holds (review 420):
   * each is a command recorded again, judged so by both passes. Sent once, after `commands`, before the first round.
   */
  | { readonly type: 'repeats'; readonly positions: BigInt64Array }
  /** First pass: this partition's fact revisions (guessed without the facts of other partitions), sent to every peer. */
  | { readonly type: 'speculate'; readonly round: number }
  /** Second pass: every guard, facts from the timeline of this partition's revisions and those its peers sent for `round`. */
  | { readonly type: 'verify'; readonly round: number; readonly claimsForeign: boolean }
  /** The final entities and held claims, for a checkpoint. */
  | { readonly type: 'state' };

/**
 * What a worker sends each peer after its guess of a round: its fact revisions. Worker to worker, so the timeline is
 * cloned once per peer instead of to this thread and again to each worker.
 */
export interface PeerRevisions {
  readonly round: number;
  readonly revisions: readonly FactRevision[];
}

/** The digests of a partition's records in position order: 32 bytes each in `hashes`, transferred, not cloned. */
export interface RecordDigests {
  readonly positions: BigInt64Array;
  readonly hashes: Uint8Array;
}

/**
 * The command id of each event a partition judges (a decoded lifecycle event of an entity stream) in position order: 16
 * bytes each in `digests` (projections/replay/command-ids.ts commandDigest), transferred, not cloned.
 */
export interface CommandDigests {
  readonly positions: BigInt64Array;
  readonly digests: Uint8Array;
}

/** What a replay worker answers. */
export type FromWorker =
  /** Rows walked up to the head, and the position and event id of the last one. */
  | { readonly type: 'read'; readonly rows: number; readonly last: bigint; readonly lastId: string; readonly digests?: RecordDigests }
  | ({ readonly type: 'commands' } & CommandDigests)
  /** The guess is made and sent to the peers: how many revisions it holds. */
  | { readonly type: 'speculated'; readonly revisions: number }
  | {
      readonly type: 'verified';
      /** Both passes refused the same fact events: the timeline was exact, and so is this verdict. */
      readonly consistent: boolean;
      readonly tally: VerifierTally;
      readonly states: Record<string, Record<string, number>>;
      readonly position: bigint;
      /** This worker thread's CPU time so far, ms (Linux: /proc/thread-self/stat); undefined where it cannot be read. */
      readonly threadCpuMs: number | undefined;
      readonly cpu: WorkerCpu;
    }
  | { readonly type: 'state'; readonly entities: readonly EntityTuple[]; readonly claims: readonly ClaimTuple[]; readonly revisions: readonly RevisionTuple[] };
