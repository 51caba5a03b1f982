import type { FieldIssue } from '../errors.ts';
import { consistencyProofLength, inclusionProofLength } from './verify-proof.ts';

/**
 * RFC 9162 fixes how many hashes a proof has from its sizes alone (2.1.3.2 for (index, size), 2.1.4.2 for (first,
 * second)). A proof of another shape is malformed, and is said so before it is hashed (review 217): hashed, a proof cut
 * by a hash or padded with one read as evidence the log lacks (`not_included`) or as a log that forked (`inconsistent`).
 * `at` names the proof's members where it was read (`proof.hashes` in a proof file, `entries.3.proof` in a bundle).
 */

const hashes = (n: number): string => `${n} ${n === 1 ? 'hash' : 'hashes'}`;

/**
 * Why an inclusion proof cannot be one of leaf `leafIndex` in a tree of `treeSize` leaves, or undefined. `whose` says
 * where that size comes from when it is not the proof's own (a bundle's entries are proved into its checkpoint's tree).
 */
export const inclusionShapeIssue = (
  proof: { readonly leafIndex: number; readonly hashes: number },
  treeSize: number,
  at: { readonly leafIndex: string; readonly hashes: string },
  whose = '',
): FieldIssue | undefined => {
  const expected = inclusionProofLength(proof.leafIndex, treeSize);
  if (expected === undefined) {
    return { path: at.leafIndex, rule: 'leaf_not_in_tree', message: `leaf ${proof.leafIndex} is not in a tree of ${treeSize} leaves${whose}` };
  }
  if (proof.hashes === expected) return undefined;
  return {
    path: at.hashes,
    rule: 'proof_length',
    message: `${hashes(proof.hashes)}, a proof of leaf ${proof.leafIndex} in a tree of ${treeSize}${whose} has ${expected} (RFC 9162 2.1.3.2)`,
  };
};

/**
 * Why a consistency proof cannot be one from `first` to `second`, or undefined. A first tree larger than the second is
 * no shape of a proof but a rollback, which the caller tells from the signed checkpoints before asking this.
 */
export const consistencyShapeIssue = (first: number, second: number, count: number, at: string): FieldIssue | undefined => {
  const expected = consistencyProofLength(first, second);
  if (expected === undefined || count === expected) return undefined;
  return { path: at, rule: 'proof_length', message: `${hashes(count)}, a proof from ${first} to ${second} has ${expected} (RFC 9162 2.1.4.2)` };
};
