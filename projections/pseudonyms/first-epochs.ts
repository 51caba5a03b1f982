import type Database from 'better-sqlite3';
import type { CommandSink } from '../../domain/ports/index.ts';
import type { FirstEpochs, PseudonymDeriver } from './derive.ts';
import { firstListedEpoch } from './directory.ts';
import type { EpochMarks } from './epoch-marks.ts';
import { firstEpoch } from './first-epoch.ts';

/**
 * The public stream's first epochs (first-epoch.ts, FirstEpochs), from what the rotation reads: the directory's first
 * rotation of the node; where it has none, the rule the registration's reaction follows over the same marks, each
 * epoch from 0 up to past the mark asked of the store (a pseudonym's stream exists only once a rotation took it), so
 * a rotation recorded that the directory does not show yet, or marked since (the mark then past it), is still found
 * and named. Without marks, 0: a reaction without them takes epoch 0.
 */
export const firstEpochsOf = (o: {
  /** The directory, once the rotation was set up. */
  readonly directory: () => Database.Database | undefined;
  readonly marks: EpochMarks | undefined;
  readonly deriver: PseudonymDeriver;
  readonly engine: Pick<CommandSink, 'view'>;
}): FirstEpochs => ({
  async firstEpochOf(nodeId) {
    const db = o.directory();
    const listed = db === undefined ? undefined : firstListedEpoch(db, nodeId);
    if (listed !== undefined) return listed;
    const recorded = async (pseudonym: string): Promise<boolean> => (await o.engine.view('pseudonym', pseudonym)).state !== 'absent';
    return (await firstEpoch({ nodeId, mark: o.marks?.epochMark(nodeId), deriver: o.deriver, recorded })).epoch;
  },
});
