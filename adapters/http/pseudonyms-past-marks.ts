import type { FastifyBaseLogger } from 'fastify';
import type { Credence } from '../runtime/index.ts';

const STEP = 'README.md, "Restoring the event store from a backup", step 6';

/**
 * Said at warn at start, once the directory has read the log: live nodes whose rotations since the backup an
 * `events.db` was restored from are gone from it, while keys.db kept the epochs their pseudonyms were given out at.
 * Each is rotated past its mark before the API listens and before the first tick (which waits for the same pass): the
 * next rotation otherwise gave out again, one by one, the pseudonyms the restore lost, which observers had seen (review
 * 149; SER-011, SER-025). Counts only: a log line names no pseudonym beside its node.
 */
export const rotatePseudonymsPastMarks = async (o: { readonly credence: Pick<Credence, 'pseudonyms'>; readonly log: FastifyBaseLogger }): Promise<void> => {
  const rotation = o.credence.pseudonyms;
  if (rotation === undefined) return;
  const { behind, rotated, other } = await rotation.rotatePastMarks();
  if (behind === 0 && other === 0) return;
  o.log.warn(
    { pseudonymsBehindTheirMark: behind, rotatedPastTheirMark: rotated, markedNotInTheLog: other },
    `keys.db records pseudonyms given out at later epochs than the event log holds for ${behind + other} node(s): ` +
      `the log was restored from an older backup. Rotated ${rotated} of the ${behind} live ` +
      `one(s) past what was given out, so none is given out again` +
      (behind > rotated ? `; the ${behind - rotated} not rotated are tried at the next start` : '') +
      (other > 0 ? `; ${other} unknown in the log (registered since the backup): registered again, such a node takes its first pseudonym past its mark, none it had before (an earlier version marked no first pseudonym: rotate a node it registered by hand right after)` : '') +
      ` (${STEP})`,
  );
};
