import type { RecordedEvent } from '../../domain/ports/event-store.ts';
import { TransparencyLogAltered, type LoggedLeaf, type TransparencyLogStore } from '../../domain/ports/transparency-log.ts';
import { constantTimeEqual } from '../../domain/crypto/index.ts';
import { isCredenceError } from '../../domain/errors.ts';
import type { Checkpoint } from '../../domain/transparency/checkpoint.ts';
import { hashChildren } from '../../domain/transparency/hashing.ts';
import { eventLeafHash } from '../../domain/transparency/leaf.ts';
import { inclusionProof, type HashSource } from '../../domain/transparency/tree.ts';
import { verifyInclusionProof } from '../../domain/transparency/verify-proof.ts';

/** The tree a checkpoint signs, as far as telling the altered file needs it. */
export type SignedTree = Pick<Checkpoint, 'treeSize' | 'rootHash'>;

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
): Exclude<LeafWitness, 'leaf_hash'> | undefined => {
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
 * Shared by export and the inclusion route, which refuse either way and word the refusal by it.
 */
export const alteredLeafWitness = (
  log: HashSource,
  leaf: LoggedLeaf,
  event: RecordedEvent,
  signed: SignedTree | undefined,
): LeafWitness | undefined => {
  if (event.position !== leaf.position) return undefined;
  const hash = eventLeafHash(event);
  if (constantTimeEqual(hash, leaf.leafHash)) return event.id === leaf.eventId ? undefined : 'leaf_hash';
  return storedEventWitness(log, leaf.leafIndex, hash, signed);
};

/** What vouches for the stored event where its leaf row disagrees: its own leaf hash, the signed tree, or the subtree above. */
export type LeafWitness = 'leaf_hash' | 'checkpoint' | 'subtree';

const WITNESS: Record<LeafWitness, string> = {
  leaf_hash: 'whose hash the leaf holds',
  checkpoint: 'which the signed checkpoint covers at that leaf',
  subtree: 'which the stored subtree above the leaf holds',
};

/**
 * What the audit and the inclusion route say of a leaf row that disagrees with the event the log vouches for there.
 * `storedEventId` is named by the audit only: the route answers before it knows whether the caller may see the event
 * (a pseudonym's, SER-025).
 */
export const alteredLeafMessage = (
  leaf: { readonly leafIndex: number; readonly position: bigint; readonly eventId: string },
  witness: LeafWitness,
  storedEventId?: string,
): string => {
  const row =
    storedEventId === undefined
      ? "disagrees with the store's event there"
      : leaf.eventId === storedEventId
        ? `holds another hash than the store's event there (${storedEventId})`
        : `names event ${leaf.eventId}, not the store's event there (${storedEventId})`;
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
  let low = 0;
  let high = log.size();
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    const leaf = log.leafAt(middle);
    if (leaf === undefined || leaf.position > position) high = middle;
    else low = middle + 1;
  }
  return low < log.size() && log.leafAt(low) === undefined ? low : undefined;
};
