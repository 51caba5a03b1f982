import type { LoggedEvent } from './leaf.ts';
import type { Checkpoint } from './checkpoint.ts';
import { constantTimeEqual } from '../crypto/bytes.ts';
import { appendLeafHash, emptyFrontier, frontierRoot } from './frontier.ts';
import { eventLeafHash } from './leaf.ts';
import { fail, openCheckpoint, type LogPublicKey, type VerificationResult } from './verify-result.ts';

/**
 * Offline verifier (b), issue 4 item 5: a whole exported log, in global order, recomputes the root that the
 * signed checkpoint commits to. Entries past the checkpoint's size are not covered by any signature and are
 * only counted.
 */
export const verifyExportedLog = (
  entries: Iterable<LoggedEvent>,
  checkpointNote: string,
  logPublicKey: LogPublicKey,
): VerificationResult<{ checkpoint: Checkpoint; verified: number; beyondCheckpoint: number }> => {
  const opened = openCheckpoint(checkpointNote, logPublicKey);
  if (!opened.ok) return opened;
  const { checkpoint } = opened;
  let frontier = emptyFrontier;
  let previous: bigint | undefined;
  let beyondCheckpoint = 0;
  for (const event of entries) {
    if (previous !== undefined && event.position <= previous) {
      return fail('out_of_order', `position ${event.position} follows position ${previous}`, event.position);
    }
    previous = event.position;
    if (frontier.size < checkpoint.treeSize) frontier = appendLeafHash(frontier, eventLeafHash(event)).frontier;
    else beyondCheckpoint += 1;
  }
  if (frontier.size < checkpoint.treeSize) {
    return fail('missing_entries', `the export holds ${frontier.size} entries, the checkpoint commits to ${checkpoint.treeSize}`);
  }
  if (!constantTimeEqual(frontierRoot(frontier), checkpoint.rootHash)) {
    return fail('root_mismatch', `the ${checkpoint.treeSize} exported entries do not hash to the checkpoint root`);
  }
  return { ok: true, checkpoint, verified: checkpoint.treeSize, beyondCheckpoint };
};
