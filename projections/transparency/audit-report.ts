import type { RecordedEvent } from '../../domain/ports/event-store.ts';
import type { Checkpoint } from '../../domain/transparency/checkpoint.ts';

// What the audit of the stored events against the transparency log (audit.ts) reads and reports: typed on its own, so
// that the parts of the audit (audit-checkpoints.ts) import it and nothing imports back.

/** One stored row as the audit reads it: a parsed event, or a row that no longer parses. */
export type AuditedRow =
  | { readonly ok: true; readonly event: RecordedEvent }
  | { readonly ok: false; readonly position: bigint; readonly problem: string };

export type TamperKind =
  /** The row at this position is not the event the log recorded there (content, id or both changed). */
  | 'edited'
  /** A logged event is gone from the store. */
  | 'deleted'
  /** A logged event sits at another position than the one the log recorded. */
  | 'reordered'
  /** The store holds an event at a position the log never saw, inside the logged range. */
  | 'inserted'
  /** The latest checkpoint does not verify under the log key. */
  | 'bad_checkpoint'
  /**
   * The log file disagrees with its own signed checkpoint (it was altered too, or truncated), or its stream index with
   * the events, or it keeps subtree hashes past its last leaf (leaves deleted from its end), or a leaf row was altered
   * over an event the log still vouches for (its id or hash changed, or a leaf deleted from the middle).
   */
  | 'log_mismatch'
  /** The log's latest checkpoint is older than one the auditor kept, or its history no longer hashes to it. */
  | 'rolled_back'
  /** The log's latest checkpoint and the one the auditor kept sign one tree size with other roots: the log forked. */
  | 'inconsistent'
  /** The stored history no longer hashes to a checkpoint the log key signed earlier: rewritten, and signed again since. */
  | 'forked'
  /** A subtree hash the log file keeps (its `nodes` table, what proofs are built from) is not the hash of its leaves. */
  | 'node_mismatch';

/**
 * No pass, and no proof of tampering: the log key verified nothing, and nothing in the files tells why. Exit 1 all the
 * same. `not_signed_yet`: the stored events match the log's leaves and no checkpoint covers them (a new log between
 * logging and signing, a signer that failed, a kill before the first signature, or checkpoints removed).
 * `not_logged_yet`: the log holds no leaf and no checkpoint (one not caught up with its store, or one emptied without
 * a trace). A checkpoint kept from an earlier audit tells them apart; signing them never does.
 */
export type UnverifiedKind = 'not_signed_yet' | 'not_logged_yet';

export type AuditReport =
  | {
      readonly ok: true;
      readonly checkedEvents: number;
      /** Events covered by the latest signed checkpoint (0 when none was signed yet). */
      readonly signedThrough: number;
      readonly checkpoint: Checkpoint | undefined;
      /** The latest checkpoint's signed note, as the log key signed it: what an auditor keeps for the next audit. */
      readonly checkpointNote: string | undefined;
      /** Stored events after the log's newest leaf: not logged yet, so neither proved nor disproved. */
      readonly unlogged: number;
      /**
       * Leaves of another application's records the store no longer holds (a store that is not gapless: audit-leaf.ts
       * `scavengedAway`), their logged hashes held to the checkpoints. Present only when there are some.
       */
      readonly scavengedForeign?: number;
    }
  | {
      readonly ok: false;
      readonly kind: TamperKind;
      readonly message: string;
      readonly position?: bigint;
      readonly leafIndex?: number;
      /** Of a `node_mismatch`: the stored subtree, at `level` above the leaves, `index`-th from the left. */
      readonly node?: { readonly level: number; readonly index: number };
      /**
       * Of a `log_mismatch` where the stored events match the log file but not its latest signed checkpoint: the
       * leaves (and their positions) after the last earlier checkpoint signed by the log key that still holds, where
       * they part from it. Both ends included.
       */
      readonly range?: AuditRange;
    }
  | {
      readonly ok: false;
      readonly kind: UnverifiedKind;
      readonly message: string;
      /** Leaves the log holds, none of them under a signed checkpoint. */
      readonly unsignedLeaves: number;
      readonly position?: undefined;
    };

/** Leaves `first` to `last` and the positions of their events, both ends included. */
export interface AuditRange {
  readonly leaves: { readonly first: number; readonly last: number };
  readonly positions: { readonly first: bigint; readonly last: bigint };
}
