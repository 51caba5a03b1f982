import type { TransparencyLogStore } from '../../domain/ports/transparency-log.ts';
import { constantTimeEqual } from '../../domain/crypto/index.ts';
import { isCredenceError } from '../../domain/errors.ts';
import type { CompletedNode } from '../../domain/transparency/frontier.ts';

/** What the audit reports of a stored subtree hash that is not the hash of its leaves (a `node_mismatch`). */
export interface NodeFinding {
  readonly ok: false;
  readonly kind: 'node_mismatch';
  readonly message: string;
  readonly position: bigint;
  readonly leafIndex: number;
  readonly node: { readonly level: number; readonly index: number };
}

/**
 * Holds the subtrees a leaf completed (level 1 up; level 0 is the leaf, checked against its event) to the hashes the
 * log file keeps for them. Proofs and roots are built from those stored hashes, not from the leaves (tree.ts): one
 * changed made every proof through it fail while the audit, which hashes the leaves, passed (found in review 51).
 * One indexed read per node, so the audit stays linear in the log and holds only the right edge. The audit keeps the
 * first finding and reports it only when it finds nothing else (audit.ts).
 */
export const storedNodesAgree = (
  completed: readonly CompletedNode[],
  log: Pick<TransparencyLogStore, 'nodeHash'>,
  position: bigint,
  leafIndex: number,
): NodeFinding | undefined => {
  for (const { level, index, hash } of completed) {
    if (level === 0) continue;
    let stored: Uint8Array | undefined;
    try {
      stored = log.nodeHash(level, index);
    } catch (error) {
      // A file SQLite cannot read is the log's own refusal, not a missing row.
      if (isCredenceError(error)) throw error;
      stored = undefined;
    }
    if (stored !== undefined && constantTimeEqual(stored, hash)) continue;
    const width = 2 ** level;
    return {
      ok: false,
      kind: 'node_mismatch',
      position,
      leafIndex,
      node: { level, index },
      message:
        `transparency.db: the stored subtree hash at level ${level}, index ${index} (leaves ${index * width} to ${(index + 1) * width - 1}) ` +
        `${stored === undefined ? 'is missing' : 'is not the hash of its leaves'}: inclusion and consistency proofs through it do not verify, ` +
        'and credence export refuses them. The events, the leaves and the signed checkpoints agree: only the stored subtree hashes are wrong, ' +
        'and they are a cache of the leaves: with the service stopped, write them again with credence verify --data DIR --repair-nodes ' +
        '(or restore transparency.db from a backup of the data folder)',
    };
  }
  return undefined;
};
