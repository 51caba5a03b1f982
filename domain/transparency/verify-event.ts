import type { LoggedEvent } from './leaf.ts';
import type { Checkpoint } from './checkpoint.ts';
import { eventLeafHash } from './leaf.ts';
import type { InclusionProof } from './schemas.ts';
import { verifyInclusionProof } from './verify-proof.ts';
import { inclusionShapeIssue } from './proof-shape.ts';
import { fail, malformed, openCheckpoint, type LogPublicKey, type VerificationResult } from './verify-result.ts';

const PROOF_MEMBERS = { leafIndex: 'proof.leafIndex', hashes: 'proof.hashes' } as const;

/**
 * Offline verifier (a), issue 4 item 5: one stored event is in the log that the signed checkpoint commits to
 * (SER-016 non-repudiation). Needs nothing from the engine: the event, its proof, the checkpoint, the log key.
 */
export const verifyEventInclusion = (args: {
  readonly event: LoggedEvent;
  readonly proof: InclusionProof;
  readonly checkpointNote: string;
  readonly logPublicKey: LogPublicKey;
}): VerificationResult<{ checkpoint: Checkpoint }> => {
  const opened = openCheckpoint(args.checkpointNote, args.logPublicKey);
  if (!opened.ok) return opened;
  const { checkpoint } = opened;
  if (args.proof.treeSize !== checkpoint.treeSize) {
    return fail(
      'proof_size_mismatch',
      `the proof is for a tree of ${args.proof.treeSize} leaves, the checkpoint for ${checkpoint.treeSize}`,
      args.event.position,
    );
  }
  // Of another shape than RFC 9162 fixes for (index, size), the proof is malformed input, not evidence the log lacks.
  const shape = inclusionShapeIssue({ leafIndex: args.proof.leafIndex, hashes: args.proof.hashes.length }, args.proof.treeSize, PROOF_MEMBERS);
  if (shape !== undefined) return malformed('not a valid inclusion proof', shape, args.event.position);
  const included = verifyInclusionProof(
    args.proof.leafIndex,
    checkpoint.treeSize,
    eventLeafHash(args.event),
    args.proof.hashes,
    checkpoint.rootHash,
  );
  if (!included) {
    return fail(
      'not_included',
      `event at position ${args.event.position} is not leaf ${args.proof.leafIndex} of the checkpointed tree`,
      args.event.position,
    );
  }
  return { ok: true, checkpoint };
};
