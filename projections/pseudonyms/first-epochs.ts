import type Database from 'better-sqlite3';
import type { CommandSink } from '../../domain/ports/index.ts';
import type { FirstEpochs, PseudonymDeriver } from './derive.ts';
import { firstListedEpoch, firstListedEpochAbove, nodePseudonym } from './directory.ts';
import type { EpochMarks } from './epoch-marks.ts';
import { firstEpoch } from './first-epoch.ts';

/**
 * The public stream's first epochs (first-epoch.ts, FirstEpochs), from what the rotation reads: the directory's first
 * rotation of the node; where it has none, the rule the registration's reaction follows over the same marks, each
 * epoch from 0 up to past the mark asked of the store (a pseudonym's stream exists only once a rotation took it), so
 * a rotation recorded that the directory does not show yet, or marked since (the mark then past it), is still found
 * and named. Without marks, 0: a reaction without them takes epoch 0. And the epoch a node is named under from an
 * enrolment after its first on (FirstEpochs.epochAfterEnrolment): the directory's first rotation of it past the names
 * before; else the next epoch's, stored and not listed yet or still to be recorded by the reaction to that enrolment.
 */
export const firstEpochsOf = (o: {
  /** The directory, once the rotation was set up. */
  readonly directory: () => Database.Database | undefined;
  readonly marks: EpochMarks | undefined;
  readonly deriver: PseudonymDeriver;
  readonly engine: Pick<CommandSink, 'view'>;
}): FirstEpochs => {
  const recorded = async (pseudonym: string): Promise<boolean> => (await o.engine.view('pseudonym', pseudonym)).state !== 'absent';
  return {
    async firstEpochOf(nodeId) {
      const db = o.directory();
      const listed = db === undefined ? undefined : firstListedEpoch(db, nodeId);
      if (listed !== undefined) return listed;
      return (await firstEpoch({ nodeId, mark: o.marks?.epochMark(nodeId), deriver: o.deriver, recorded })).epoch;
    },
    async epochAfterEnrolment(nodeId, before) {
      const db = o.directory();
      const listed = db === undefined ? undefined : firstListedEpochAbove(db, nodeId, before);
      if (listed !== undefined) return listed;
      // The directory behind the log: the reaction's rotation recorded, not listed yet.
      if (await recorded(await o.deriver.node(nodeId, before + 1))) return before + 1;
      const node = db === undefined ? undefined : nodePseudonym(db, nodeId);
      return node !== undefined && !node.live ? undefined : before + 1;
    },
  };
};
