import { ProblemResponse } from '../../adapters/client/http.ts';
import type { ConsistencyAnswerJson } from '../../adapters/client/answers.ts';
import { isServiceProblem } from '../../adapters/client/service-problem.ts';
import { fail, openCheckpoint, verifyConsistency, type Checkpoint, type NoteVerifierKey, type VerificationResult } from '../../domain/transparency/index.ts';
import type { clientOf } from './options.ts';

/**
 * Whether `error` is the consistency route's own word that it proves nothing from `size` (adapters/http/routes/
 * transparency.ts): the service's `not_found` of stream `transparency`, naming that size as this version says it
 * (past the latest signed checkpoint) or as a version before review 198 did (no signed checkpoint of that size). Not
 * its 404 of a log it does not keep (an in-memory instance), nor of a log that signed nothing yet ("(latest)"), nor a
 * proxy's 404 page: none of these says anything of the kept tree (review 200: each was called a rollback).
 */
const noProofFromSize = (error: unknown, size: number): error is ProblemResponse =>
  isServiceProblem(error, 'not_found') &&
  error.status === 404 &&
  error.problem['streamId'] === 'transparency' &&
  new RegExp(`^(tree size ${size} is past the latest signed checkpoint\\b|no signed checkpoint of tree size ${size}$)`).test(error.problem.detail ?? '');

/**
 * The server's proof from the size of the checkpoint kept, or the verdict when the route has none for that size
 * (review 198: that was `refused: Not found (404)`, exit 1, for a log forked by a restore under the same key). A
 * verdict comes only from the server's latest checkpoint opened under the pinned key (review 200: with none, a 404
 * was called a rollback): smaller than the one kept is the log rolled back (`rollback`, from verifyConsistency, which
 * tells two origins first); larger, the server signed the kept tree once and cannot show its tree extends it: its log
 * forked (`inconsistent`). This version's server proves it from any size up to its latest, so there the proof itself
 * fails; the 404 at or below the latest is a server of an earlier version, which proves it only from the sizes it
 * signed. Any other 404, and a server with no signed checkpoint, is the refusal it was, thrown as answered.
 */
export const proofFromKept = async (
  client: ReturnType<typeof clientOf>,
  kept: Checkpoint,
  keptNote: string,
  pinned: NoteVerifierKey,
): Promise<{ readonly answer: ConsistencyAnswerJson } | { readonly failed: VerificationResult<never> }> => {
  let refusal: ProblemResponse;
  try {
    return { answer: await client.consistencyProof(String(kept.treeSize)) };
  } catch (error) {
    if (!noProofFromSize(error, kept.treeSize)) throw error;
    refusal = error;
  }
  // No signed checkpoint (its 404, whoever answered it) is nothing to hold the kept one to: its refusal, said as it is.
  const latest = await client.checkpoint();
  const opened = openCheckpoint(latest, pinned);
  if (!opened.ok) return { failed: opened };
  // With no proof: two origins, a smaller tree (`rollback`), or one of the same size with another root are told there.
  // Past the kept size, the empty list is no proof of the larger tree (`malformed`: RFC 9162 fixes its length, review
  // 217), the want of one told below; from an empty kept tree none is needed.
  const held = verifyConsistency(keptNote, latest, { first: kept.treeSize, second: opened.checkpoint.treeSize, hashes: [] }, pinned);
  const larger = opened.checkpoint.treeSize > kept.treeSize;
  if (!held.ok && !(larger && held.reason === 'malformed')) return { failed: held };
  // The kept tree itself as the latest: no fork to tell, and no proof was served; the route's refusal stands.
  if (held.ok) throw refusal;
  return {
    failed: fail(
      'inconsistent',
      `the server cannot show that its tree of size ${opened.checkpoint.treeSize} extends the tree of size ${kept.treeSize} (the checkpoint kept, ` +
        `signed by ${pinned.keyName}): its log forked (restored under the same key), or lost its checkpoints`,
    ),
  };
};
