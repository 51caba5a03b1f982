import { constantTimeEqual } from '../crypto/bytes.ts';
import type { Checkpoint } from './checkpoint.ts';
import type { ConsistencyProof } from './schemas.ts';
import { verifyConsistencyProof } from './verify-proof.ts';
import { consistencyShapeIssue } from './proof-shape.ts';
import { fail, malformed, openCheckpoint, type LogPublicKey, type VerificationResult } from './verify-result.ts';

/**
 * Offline verifier (c), issue 4 item 5: the later checkpoint's tree extends the earlier one's, i.e. the log only
 * appended in between (RFC 9162 section 2.1.4). A forked history has no such proof. The order is the caller's:
 * `checkpointA` is the one kept from before, and a `checkpointB` of a smaller tree is a log rolled back (`rollback`),
 * never the two read the other way round (a server answering an audit with an older checkpoint would pass). Two
 * origins are told before sizes are compared.
 */
export const verifyConsistency = (
  checkpointA: string,
  checkpointB: string,
  proof: ConsistencyProof,
  logPublicKey: LogPublicKey,
): VerificationResult<{ first: Checkpoint; second: Checkpoint }> => {
  const a = openCheckpoint(checkpointA, logPublicKey);
  if (!a.ok) return a;
  const b = openCheckpoint(checkpointB, logPublicKey);
  if (!b.ok) return b;
  const [first, second] = [a.checkpoint, b.checkpoint];
  // Two logs first: their sizes compare nothing, and a smaller tree of another log is no rollback of this one.
  if (first.origin !== second.origin) {
    return fail('origin_mismatch', `checkpoints come from two logs: ${first.origin} and ${second.origin}`);
  }
  if (second.treeSize < first.treeSize) {
    return fail('rollback', `the later checkpoint's tree (size ${second.treeSize}) is smaller than the earlier one's (size ${first.treeSize}): the log was rolled back`);
  }
  // Two signed roots of one size are a fork whatever the proof holds: said before the proof's sizes and shape are
  // (review 296: a proof file of other sizes beside them read `proof_size_mismatch`, hiding the fork).
  if (first.treeSize === second.treeSize && !constantTimeEqual(first.rootHash, second.rootHash)) {
    return fail('inconsistent', `both checkpoints sign a tree of size ${first.treeSize}, with other roots: the log forked`);
  }
  if (proof.first !== first.treeSize || proof.second !== second.treeSize) {
    return fail(
      'proof_size_mismatch',
      `the proof is from ${proof.first} to ${proof.second}, the checkpoints are ${first.treeSize} and ${second.treeSize}`,
    );
  }
  // Of another length than RFC 9162 fixes for the two sizes, the proof is malformed input: a file cut by a hash, not a
  // log that forked (review 217).
  const shape = consistencyShapeIssue(first.treeSize, second.treeSize, proof.hashes.length, 'proof.hashes');
  if (shape !== undefined) return malformed('not a valid consistency proof', shape);
  if (!verifyConsistencyProof(first.treeSize, second.treeSize, first.rootHash, second.rootHash, proof.hashes)) {
    return fail('inconsistent', `the tree of size ${second.treeSize} does not extend the tree of size ${first.treeSize}`);
  }
  return { ok: true, first, second };
};
