import type { RecordedEvent } from '../../domain/ports/event-store.ts';
import type { LoggedLeaf, TransparencyLogStore } from '../../domain/ports/transparency-log.ts';
import { constantTimeEqual } from '../../domain/crypto/index.ts';
import type { Checkpoint } from '../../domain/transparency/checkpoint.ts';
import { appendLeafHash, frontierRoot, type Frontier } from '../../domain/transparency/frontier.ts';
import { eventLeafHash } from '../../domain/transparency/leaf.ts';
import { alteredLeafMessage, leafGapMessage, storedEventWitness, type LeafWitness } from './altered-leaf.ts';
import { isOwnLeaf } from './resume-point.ts';

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

/** The next stored row as the walk looks ahead to it: a parsed event, or a row that does not parse (where, and why). */
type Row = { readonly ok: true; readonly event: RecordedEvent } | { readonly ok: false; readonly position: bigint; readonly problem: string };

type Log = Pick<TransparencyLogStore, 'leafByEventId' | 'nodeHash'>;

/** The leaf row altered over the stored event `witness` vouches for: transparency.db is wrong, not events.db. */
const alteredLeaf = (leaf: LoggedLeaf, witness: LeafWitness, event: RecordedEvent): LeafFinding => ({
  ok: false,
  kind: 'log_mismatch',
  position: leaf.position,
  leafIndex: leaf.leafIndex,
  message: alteredLeafMessage(leaf, witness, event),
});

/**
 * A leaf past the signed tree whose hash is not its stored event's. The stored subtree above the leaf, which the leaf
 * row alone does not change, still holding the store's event is the leaf row altered: `log_mismatch` (review 159).
 * Else the store was altered. Nothing is signed there: a store and log both rewritten pass as unsigned anyway.
 */
export const leafMismatch = (leaf: LoggedLeaf, event: RecordedEvent, hash: Uint8Array, next: Row | undefined, log: Log): LeafFinding => {
  const witness = storedEventWitness(log, leaf.leafIndex, hash, undefined);
  return witness !== undefined ? alteredLeaf(leaf, witness, event) : storeAltered(leaf, event, next, log);
};

/** How the store was altered where its event at a leaf's position is not the leaf's, as far as the rows tell. */
export const storeAltered = (leaf: LoggedLeaf, event: RecordedEvent, next: Row | undefined, log: Log): LeafFinding => {
  const at = { position: leaf.position, leafIndex: leaf.leafIndex };
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

/**
 * Which file a leaf inside the signed tree belongs to where it and the stored event at its index disagree (another
 * hash, event id or position), judged on what the log key signed, not on rows either file holds. The stored event's
 * hash with the log's audit path reaching the signed root vouches for it at once. Where the path itself was altered
 * (a sibling leaf, a stored subtree on it) that proves nothing either way, and blaming the store sent the operator
 * to restore events.db over a log file alone altered (review 164): then the stored events, read on to the signed size
 * and hashed to a root by themselves (RFC 9162 2.1.1: O(log n) memory), decide. The signed root is the store intact
 * there and the leaf row the log file's; another root, or a row that does not parse, is the store altered (`store`).
 * Which event of the store was altered is known only where the log's own leaf reaches the signed root through its
 * path: then the signed leaf there is the log's, the stored event is not it, and `store` says so as it is. Else both
 * files were altered and the root says only that the store was, somewhere: `store` keeps its kind and position (the
 * first disagreement), and says just that (review 167: leaves 2 and 3 zeroed and event 7 edited read "event …0002 at
 * position 3 was edited", event 3 untouched); a row that does not parse is named at its own position.
 */
export const signedLeafDisagreement = async <F extends { readonly message: string; readonly position: bigint }>(args: {
  readonly leaf: LoggedLeaf;
  /** The stored event at the leaf's index, and its leaf hash. */
  readonly event: RecordedEvent;
  readonly hash: Uint8Array;
  /** The finding against the store, should the store not hash to the signed root. */
  readonly store: F;
  /** The tree of the stored events before it, which the walk found equal to the leaves. */
  readonly before: Frontier;
  /** The stored rows after it, in order. */
  readonly rowsAfter: () => Promise<Row | undefined>;
  readonly log: Log;
  /** The latest checkpoint, opened under the log key. */
  readonly signed: Checkpoint;
}): Promise<F | LeafFinding> => {
  const { leaf, event, signed, store } = args;
  if (storedEventWitness(args.log, args.before.size, args.hash, signed) !== undefined) return alteredLeaf(leaf, 'checkpoint', event);
  if (storedEventWitness(args.log, args.before.size, leaf.leafHash, signed) !== undefined) return store;
  const missed = `the stored events no longer hash to the signed root (first disagreement with the log at position ${store.position})`;
  let tree = appendLeafHash(args.before, args.hash).frontier;
  while (tree.size < signed.treeSize) {
    const row = await args.rowsAfter();
    if (row === undefined) return { ...store, message: `${missed}: the store holds ${tree.size} of the ${signed.treeSize} events signed` };
    if (!row.ok) return { ...store, message: `the stored row at position ${row.position} does not parse (${row.problem}), so ${missed}` };
    tree = appendLeafHash(tree, eventLeafHash(row.event)).frontier;
  }
  return constantTimeEqual(frontierRoot(tree), signed.rootHash) ? alteredLeaf(leaf, 'signed_root', event) : { ...store, message: missed };
};

/**
 * A logged leaf the store may have let go of without anyone tampering: another application's record on a store that is
 * not gapless (EventStoreDB), removed when its stream was deleted and the server scavenged (review 179). The log logs
 * every record of $all, so a shared cluster leaves such leaves; `deleted` there was a false alarm. A Credence record
 * is never removed, so one missing is still `deleted`; on the embedded store (gapless) every record is kept.
 */
export const scavengedAway = (leaf: LoggedLeaf, gapless: boolean): boolean => !gapless && !isOwnLeaf(leaf);

/**
 * A logged event the store no longer holds. `storeEnded`: the store holds no event after it, as an events.db put back
 * from a backup older than its log leaves it, which `credence replay` names too (review 321): said beside the deletion.
 */
export const missingEvent = (leaf: LoggedLeaf, storeEnded = false): LeafFinding => ({
  ok: false,
  kind: 'deleted',
  position: leaf.position,
  leafIndex: leaf.leafIndex,
  message:
    `logged event ${leaf.eventId} at position ${leaf.position} is missing from the store` +
    (storeEnded ? ': events deleted from its end, or events.db restored from an older backup (README, restoring events.db, step 4)' : ''),
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
