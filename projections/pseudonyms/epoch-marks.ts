import type Database from 'better-sqlite3';
import { nodePseudonym } from './directory.ts';

export interface NodeEpoch {
  readonly nodeId: string;
  readonly epoch: number;
}

/**
 * The highest epoch each node's pseudonym was given out at, kept where the pseudonym key is (`keys.db`), outside the
 * event log: an `events.db` restored from a backup loses the rotations since, while the key that derives them stays.
 * The next rotation then derived an epoch's pseudonym already published, and observers linked the two periods
 * (review 149; SER-011, SER-025). A mark is raised once the rotation to its epoch is recorded, never before (review
 * 156: one raised for a rotation then refused read as a restore at the next start); a process stopped between the two
 * leaves the log ahead of the mark, which the next start raises (marksBehindTheLog) before it judges any node.
 */
export interface EpochMarks {
  /** The node's mark, if any. */
  epochMark(nodeId: string): number | undefined;
  /** Raises each node's mark to at least its epoch, durably, in one write; a mark as high or higher stays. */
  raiseEpochMarks(marks: readonly NodeEpoch[]): void;
  /** Every node's mark, read whole (the caller may write the marks after). */
  epochMarks(): NodeEpoch[];
}

export interface BehindMarks {
  /** Live nodes whose current epoch in the directory is below their mark, each with its mark. */
  readonly live: readonly NodeEpoch[];
  /**
   * Nodes with a mark that the directory does not know. One no longer live is not counted: it is given out nothing more.
   */
  readonly other: number;
}

/**
 * The nodes the log has fewer rotations of than `marks` says were given out: read from a directory caught up with the
 * log. A node the directory does not know was registered since the backup (its first pseudonym is marked too):
 * counted only; registered again, its first pseudonym is past its mark (first-epoch.ts).
 */
export const behindMarks = (db: Database.Database, marks: EpochMarks): BehindMarks => {
  const live: NodeEpoch[] = [];
  let other = 0;
  for (const mark of marks.epochMarks()) {
    const node = nodePseudonym(db, mark.nodeId);
    if (node === undefined) other++;
    else if (node.live && (node.epoch === undefined || node.epoch < mark.epoch)) live.push(mark);
  }
  return { live, other };
};

/** The marks the log is ahead of, as they should be: read from a directory caught up with the log. */
export const marksBehindTheLog = (db: Database.Database, marks: EpochMarks): NodeEpoch[] => {
  const marked = new Map(marks.epochMarks().map((m) => [m.nodeId, m.epoch]));
  // Epoch 0 too: a first pseudonym recorded by a process stopped before it marked it, or before marks included it.
  const rows = db.prepare('SELECT node_id AS nodeId, epoch FROM pseudonym_nodes WHERE epoch >= 0').all() as NodeEpoch[];
  return rows.filter((row) => (marked.get(row.nodeId) ?? -1) < row.epoch);
};
