import type { RecordedEvent } from '../../domain/ports/event-store.ts';
import { TransparencyLogAltered, type LoggedLeaf, type TransparencyLogStore } from '../../domain/ports/transparency-log.ts';
import { constantTimeEqual } from '../../domain/crypto/index.ts';
import { isCredenceError } from '../../domain/errors.ts';
import type { Checkpoint } from '../../domain/transparency/checkpoint.ts';
import { hashChildren } from '../../domain/transparency/hashing.ts';
import { eventLeafHash } from '../../domain/transparency/leaf.ts';
import type { NoteVerifierKey } from '../../domain/transparency/note.ts';
import { inclusionProof, type HashSource } from '../../domain/transparency/tree.ts';
import { verifyInclusionProof } from '../../domain/transparency/verify-proof.ts';
import { openCheckpoint } from '../../domain/transparency/verify-result.ts';

/**
 * The tree a checkpoint signs, as far as telling the altered file needs it: one opened under the log key
 * (`openCheckpoint`), never a checkpoint row as stored, which whoever writes transparency.db writes (review 164). The
 * origin is asked for so that a stored row (which has none) is not passed by mistake.
 */
export type SignedTree = Pick<Checkpoint, 'origin' | 'treeSize' | 'rootHash'>;

/**
 * Whether the event the store holds is the one the log recorded at `leafIndex`, judged without that leaf's own row:
 * where a leaf row and its event disagree, one of the two files was altered, and only this tells which (review 159:
 * a leaf hash or event id changed in transparency.db was reported as events.db edited, or passed). Under the signed
 * tree, the event's hash with the audit path the log file keeps must give the signed root (RFC 9162 2.1.3.2): the path
 * holds the leaf's siblings, never the leaf, and a second preimage of a signed root is not to be had. Past the signed
 * tree, the stored subtree of two leaves above it decides, which the leaf row alone does not change. What vouched for
 * the event; undefined when nothing did (the store edited, or a node the decision needs is missing).
 */
export const storedEventWitness = (
  log: HashSource,
  leafIndex: number,
  eventHash: Uint8Array,
  signed: SignedTree | undefined,
): Exclude<LeafWitness, 'leaf_hash' | 'signed_root'> | undefined => {
  try {
    if (signed !== undefined && leafIndex < signed.treeSize) {
      const proof = inclusionProof(log, leafIndex, signed.treeSize);
      return verifyInclusionProof(leafIndex, signed.treeSize, eventHash, proof, signed.rootHash) ? 'checkpoint' : undefined;
    }
    const sibling = log.nodeHash(0, leafIndex % 2 === 0 ? leafIndex + 1 : leafIndex - 1);
    const parent = log.nodeHash(1, Math.floor(leafIndex / 2));
    return constantTimeEqual(leafIndex % 2 === 0 ? hashChildren(eventHash, sibling) : hashChildren(sibling, eventHash), parent) ? 'subtree' : undefined;
  } catch (error) {
    // A file SQLite cannot read, or a row of another type, is the log's own finding; a missing node decides nothing.
    if (isCredenceError(error) || error instanceof TransparencyLogAltered) throw error;
    return undefined;
  }
};

/**
 * What vouches for the event the store holds at a leaf's position where the leaf row disagrees with it (another event
 * id, another hash): undefined when nothing does, or they agree, or the event sits elsewhere (then the store is judged).
 * Shared by export and the inclusion route, which refuse either way and word the refusal by it. Under the latest
 * checkpoint only the log key vouches: the checkpoint once its note verifies under `key`, through the log's audit path.
 * A row that disagrees is then no witness, nor the leaf's own hash: whoever edits events.db and transparency.db can
 * rewrite a checkpoint's root (row and note text, signature left invalid) or a leaf hash to send the operator to
 * restore the wrong file (review 164). Past it, where nothing is signed, the leaf hash and the stored subtree tell.
 */
export const alteredLeafWitness = (
  log: HashSource & Pick<TransparencyLogStore, 'latestCheckpoint'>,
  key: NoteVerifierKey,
  leaf: LoggedLeaf,
  event: RecordedEvent,
): LeafWitness | undefined => {
  if (event.position !== leaf.position) return undefined;
  const hash = eventLeafHash(event);
  const agrees = constantTimeEqual(hash, leaf.leafHash);
  if (agrees && event.id === leaf.eventId) return undefined;
  const latest = log.latestCheckpoint();
  if (latest !== undefined && leaf.leafIndex < latest.treeSize) {
    const opened = openCheckpoint(latest.note, key);
    return opened.ok ? storedEventWitness(log, leaf.leafIndex, hash, opened.checkpoint) : undefined;
  }
  return agrees ? 'leaf_hash' : storedEventWitness(log, leaf.leafIndex, hash, undefined);
};

/**
 * What vouches for the stored event where its leaf row disagrees: its own leaf hash, the signed tree through the log's
 * audit path, the subtree above, or (the audit only, which reads them all) the stored events hashing to the signed root.
 */
export type LeafWitness = 'leaf_hash' | 'checkpoint' | 'subtree' | 'signed_root';

const WITNESS: Record<LeafWitness, string> = {
  leaf_hash: 'whose hash the leaf holds',
  checkpoint: 'which the signed checkpoint covers at that leaf',
  subtree: 'which the stored subtree above the leaf holds',
  signed_root: "while the store's events hash to the signed checkpoint's root by themselves",
};

/**
 * The refusal's words where the store's event and the log's leaf disagree and nothing the log key signed tells which
 * file was altered: neither is named (review 164: "the store holds that event altered" sent the operator to restore
 * events.db over a log file altered along the leaf's audit path). The audit reads every event and tells.
 */
export const unwitnessedDisagreement = (position: bigint): string =>
  `the store's event and the log's leaf disagree at position ${position}: run credence verify --data to tell which file was altered`;

/**
 * What the audit and the inclusion route say of a leaf row that disagrees with the event the log vouches for there.
 * The `stored` event is named by the audit only: the route answers before it knows whether the caller may see the event
 * (a pseudonym's, SER-025).
 */
export const alteredLeafMessage = (
  leaf: { readonly leafIndex: number; readonly position: bigint; readonly eventId: string },
  witness: LeafWitness,
  stored?: { readonly id: string; readonly position: bigint },
): string => {
  const row =
    stored === undefined
      ? "disagrees with the store's event there"
      : stored.position !== leaf.position
        ? `disagrees with the store's event at that leaf (${stored.id}, position ${stored.position})`
        : leaf.eventId === stored.id
          ? `holds another hash than the store's event there (${stored.id})`
          : `names event ${leaf.eventId}, not the store's event there (${stored.id})`;
  return (
    `transparency.db: leaf ${leaf.leafIndex} (position ${leaf.position}) ${row}, ${WITNESS[witness]}: ` +
    'the log file was altered, not events.db; restore transparency.db from a backup of the data folder'
  );
};

/** A leaf index missing below the log's last: leaves are appended numbered from 0 without a gap. */
export const leafGapMessage = (leafIndex: number): string =>
  `transparency.db holds no leaf ${leafIndex} and holds leaves after it: a leaf was deleted from the log file (leaves are numbered without a gap)`;

/**
 * The leaf index missing where the leaf of `position` would be, for a stored event the log holds no leaf of while it
 * holds leaves past it; undefined when the leaves around `position` are numbered without a gap (the store then holds
 * an event the log never recorded). A binary search over the leaf index: O(log n) reads.
 */
export const leafGapAt = (log: Pick<TransparencyLogStore, 'size' | 'leafAt'>, position: bigint): number | undefined => {
  // The file's count (size() reads it): the gap is in the file's rows, another process's leaves among them. Read once,
  // so that the search and its answer go by one count.
  const size = log.size();
  let low = 0;
  let high = size;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    const leaf = log.leafAt(middle);
    if (leaf === undefined || leaf.position > position) high = middle;
    else low = middle + 1;
  }
  return low < size && log.leafAt(low) === undefined ? low : undefined;
};
