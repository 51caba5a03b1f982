import type Database from 'better-sqlite3';
import type { DecodedEvent } from '../../domain/stored.ts';
import { prepared, readCheckpoint, type ResetCause } from '../runtime/index.ts';

/**
 * Which events the rotation's reactions were decided for by a run before the directory was emptied (review 208).
 *
 * Why: a rotation on association depends on the class policy of the run that saw the association, not on the events
 * alone. A rebuild read every past AssociationConfigured again under today's policy and appended an `association`
 * rotation for each one configured while `onAssociation` was off: a rebuild decided what the live run had not (SER-025:
 * the public stream then showed rotations nobody's policy asked for). So the reactions to the events a run before the
 * reset had reached issue nothing new: their rotations, if that run decided any, are in the log, found done.
 *
 * Kept in readmodels.db beside the directory, never emptied with it: the position its checkpoint had reached when a
 * reset emptied it (the highest, so a rebuild cut short and begun again still knows the first one's), and, when no
 * such position is known (a readmodels.db deleted by hand, a directory found to be built from another log, whose
 * positions mean nothing in this one), the instant (epoch ms) the reaction started over an empty directory: events
 * that occurred before it were decided, or not, by earlier runs. A new folder has an empty log then, so every event is
 * decided live, as before.
 */
const TABLE = 'pseudonym_decided_before';

interface Row {
  position: bigint | number | null;
  before_ms: bigint | number | null;
}

const rowOf = (db: Database.Database): Row | undefined =>
  prepared(db, `SELECT position, before_ms FROM ${TABLE} WHERE id = 1`).get() as Row | undefined;

const raiseInstant = (db: Database.Database, beforeMs: number, forgetPosition: boolean): void => {
  prepared(
    db,
    `INSERT INTO ${TABLE} (id, position, before_ms) VALUES (1, NULL, ?)
     ON CONFLICT(id) DO UPDATE SET before_ms = MAX(COALESCE(before_ms, excluded.before_ms), excluded.before_ms)` +
      (forgetPosition ? ', position = NULL' : ''),
  ).run(beforeMs);
};

/**
 * Creates the table; a directory with nothing projected (no checkpoint) and no row is new or was deleted by hand: the
 * reactions start now, `nowMs`. Needs the runner's checkpoints table (set up before any projection).
 */
export const setupDecidedBefore = (db: Database.Database, name: string, nowMs: number): void => {
  db.exec(`CREATE TABLE IF NOT EXISTS ${TABLE} (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    position INTEGER,
    before_ms INTEGER
  )`);
  if (readCheckpoint(db, name) === undefined && rowOf(db) === undefined) raiseInstant(db, nowMs, false);
};

/**
 * In the reset's transaction, before the checkpoint is deleted: the position the directory had reached, or, for one
 * of another log, the instant of the reset.
 */
export const markDecidedBefore = (db: Database.Database, name: string, cause: ResetCause, nowMs: number): void => {
  const reached = readCheckpoint(db, name)?.position;
  if (cause === 'another-log') raiseInstant(db, nowMs, true);
  else if (reached !== undefined) {
    prepared(
      db,
      `INSERT INTO ${TABLE} (id, position, before_ms) VALUES (1, ?, NULL)
       ON CONFLICT(id) DO UPDATE SET position = MAX(COALESCE(position, excluded.position), excluded.position)`,
    ).run(reached);
  }
};

/** Whether a run before the last reset decided the reactions to `e`: at or before its position, or before its instant. */
export const decidedBeforeReset = (db: Database.Database, e: DecodedEvent): boolean => {
  const row = rowOf(db);
  if (row === undefined) return false;
  return (row.position !== null && e.record.position <= BigInt(row.position)) || (row.before_ms !== null && e.at < Number(row.before_ms));
};
