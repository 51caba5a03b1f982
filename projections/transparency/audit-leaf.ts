import type { RecordedEvent } from '../../domain/ports/event-store.ts';
import type { LoggedLeaf, TransparencyLogStore } from '../../domain/ports/transparency-log.ts';
import type { Checkpoint } from '../../domain/transparency/checkpoint.ts';
import { alteredLeafMessage, leafGapMessage, storedEventWitness } from './altered-leaf.ts';

/**
 * What the audit (audit.ts) reports where a leaf and the stored rows disagree: which file was altered, and how. Typed
 * on its own, as audit-nodes.ts is, so that audit.ts imports it and nothing imports back.
 */
export interface LeafFinding {
  readonly ok: false;
  readonly kind: 'edited' | 'deleted' | 'reordered' | 'inserted' | 'log_mismatch';
  readonly message: string;
  readonly position: bigint;
  readonly leafIndex: number;
}

/** The next stored row as the walk looks ahead to it: a parsed event, or a row that does not parse. */
type Row = { readonly ok: true; readonly event: RecordedEvent } | { readonly ok: false };

type Log = Pick<TransparencyLogStore, 'leafByEventId' | 'nodeHash'>;

/**
 * A leaf whose hash is not its stored event's. The store's event the log still vouches for there (the signed tree
 * through the log's own proof, or past it the stored subtree above the leaf) is the leaf row altered: `log_mismatch`
 * (review 159: "edited" blamed events.db for a leaf hash changed in transparency.db). Else the store was altered.
 */
export const leafMismatch = (
  leaf: LoggedLeaf,
  event: RecordedEvent,
  hash: Uint8Array,
  next: Row | undefined,
  log: Log,
  checkpoint: Checkpoint | undefined,
): LeafFinding => {
  const at = { position: leaf.position, leafIndex: leaf.leafIndex };
  // The event the log vouches for here, in a leaf row altered since: transparency.db is wrong, not events.db.
  const witness = storedEventWitness(log, leaf.leafIndex, hash, checkpoint);
  if (witness !== undefined) return { ok: false, kind: 'log_mismatch', ...at, message: alteredLeafMessage(leaf, witness, event.id) };
  if (event.id === leaf.eventId) {
    return { ok: false, kind: 'edited', ...at, message: `event ${event.id} at position ${leaf.position} was edited` };
  }
  const elsewhere = log.leafByEventId(event.id);
  if (elsewhere !== undefined) {
    return {
      ok: false,
      kind: 'reordered',
      ...at,
      message: `position ${leaf.position} holds event ${event.id}, which the log recorded at position ${elsewhere.position}`,
    };
  }
  // An unknown event followed by the one the log expected here: the history was shifted to make room for it.
  if (next?.ok === true && next.event.id === leaf.eventId) {
    return {
      ok: false,
      kind: 'inserted',
      ...at,
      message: `event ${event.id}, which the log never recorded, was inserted at position ${leaf.position}`,
    };
  }
  return {
    ok: false,
    kind: 'edited',
    ...at,
    message: `position ${leaf.position} holds event ${event.id}, which the log never recorded, instead of ${leaf.eventId}`,
  };
};

/** A logged event the store no longer holds. */
export const missingEvent = (leaf: LoggedLeaf): LeafFinding => ({
  ok: false,
  kind: 'deleted',
  position: leaf.position,
  leafIndex: leaf.leafIndex,
  message: `logged event ${leaf.eventId} at position ${leaf.position} is missing from the store`,
});

/**
 * Leaves are numbered from 0 without a gap (the log appends them so): one missing was deleted from the log file, which
 * the positions around it would blame on the store (review 159: "inserted at position 5").
 */
export const leafGap = (leafIndex: number, position: bigint): LeafFinding => ({
  ok: false,
  kind: 'log_mismatch',
  position,
  leafIndex,
  message: leafGapMessage(leafIndex),
});
