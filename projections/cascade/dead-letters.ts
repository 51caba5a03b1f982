import type Database from 'better-sqlite3';
import { prepared } from '../runtime/index.ts';
import { readTableAsFound } from '../runtime/table-as-found.ts';

/**
 * Reactions the cascade could not carry out and will not retry by itself: the target's history is broken (replay
 * says where), or its derived command id is held by another command. Recorded, logged and left for an operator, so
 * that one poisoned stream never stops every later revocation from cascading. Transient failures (a conflict past
 * the engine's retries) are retried instead.
 *
 * A letter goes when its target stream ends later in the log (dropDeadLettersEndedBy): the operator carried out the
 * reaction by hand, or something else ended the target, and its machine takes no command any more. What the table
 * holds then depends on the log alone, as a rebuild leaves it (review 139: the count stayed for good, its alert too).
 * Not a letter about its stream's own broken history: no command can end such a stream, so an ending found there
 * later was written past the machines, and replay still finds the history broken.
 */
export interface DeadLetter {
  readonly position: bigint;
  readonly eventType: string;
  /** When the event reacted to occurred (its metadata's occurredAt). */
  readonly occurredAt: string;
  readonly command: string;
  readonly target: string;
  /** The stream the reaction targets, or whose history a lookup could not read (command `(lookup)`). */
  readonly stream: string;
  readonly reason: string;
  /** The refusal was `stream`'s own broken history: its ending does not take the letter with it. */
  readonly brokenHistory: boolean;
}

export const setupDeadLetters = (db: Database.Database): void => {
  db.exec(`CREATE TABLE IF NOT EXISTS cascade_dead_letters (
    position INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    command TEXT NOT NULL,
    target TEXT NOT NULL,
    stream TEXT NOT NULL,
    reason TEXT NOT NULL,
    broken_history INTEGER NOT NULL,
    PRIMARY KEY (position, command, target)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS cascade_dead_letters_stream ON cascade_dead_letters (stream, position)`);
};

export const resetDeadLetters = (db: Database.Database): void => {
  db.exec('DELETE FROM cascade_dead_letters');
};

export const addDeadLetter = (db: Database.Database, d: DeadLetter): void => {
  prepared(
    db,
    'INSERT OR REPLACE INTO cascade_dead_letters (position, event_type, occurred_at, command, target, stream, reason, broken_history) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  ).run(d.position, d.eventType, d.occurredAt, d.command, d.target, d.stream, d.reason, d.brokenHistory ? 1 : 0);
};

/** The reactions an App-ID's next enrolment event settles: it is no longer enrolled with the credential that ended. */
const ENROLMENT_COMMANDS = JSON.stringify(['endApplicationEnrolment', 'enrolApplication']);

/**
 * Drops the letters recorded before `position` whose target `stream` ended there (`what: 'stream'`), or, for an App-ID
 * whose enrolment ended or moved there (`'enrolment'`), its enrolment's letters only. Before, not at: a reaction to the
 * ending event itself (run before the event is applied) may dead-letter its own stream, and that letter stays. The
 * table holds only what waits for an operator (a handful of rows): read without an index on the stream.
 */
export const dropDeadLettersEndedBy = (db: Database.Database, stream: string, position: bigint, what: 'stream' | 'enrolment'): void => {
  const mine = 'DELETE FROM cascade_dead_letters WHERE stream = ? AND position < ? AND broken_history = 0';
  if (what === 'stream') prepared(db, mine).run(stream, position);
  else {
    prepared(db, `${mine} AND command IN (SELECT value FROM json_each(?))`).run(
      stream,
      position,
      ENROLMENT_COMMANDS,
    );
  }
};

interface DeadLetterRow {
  position: bigint;
  event_type: string;
  occurred_at: string;
  command: string;
  target: string;
  stream: string;
  reason: string;
  broken_history: bigint | number;
}

const READ = ['position', 'event_type', 'occurred_at', 'command', 'target', 'stream', 'reason', 'broken_history'] as const;
const COLUMNS = `${READ.join(', ')} FROM cascade_dead_letters ORDER BY position, command, target`;

/** The letters in log order; the first `limit` only, when given (what GET /v1/projections lists). */
export const deadLetters = (db: Database.Database, limit?: number): DeadLetter[] =>
  ((limit === undefined ? prepared(db, `SELECT ${COLUMNS}`).all() : prepared(db, `SELECT ${COLUMNS} LIMIT ?`).all(limit)) as DeadLetterRow[]).map((r) => ({
    position: BigInt(r.position),
    eventType: r.event_type,
    occurredAt: r.occurred_at,
    command: r.command,
    target: r.target,
    stream: r.stream,
    reason: r.reason,
    brokenHistory: Number(r.broken_history) === 1,
  }));

/** How many there are, without reading them: what the service's metrics report. */
export const deadLetterCount = (db: Database.Database): number =>
  Number((prepared(db, 'SELECT count(*) AS n FROM cascade_dead_letters').get() as { n: bigint | number }).n);

/**
 * What a reader that sets nothing up finds (`credence projections` beside a running service): the letters when the
 * table has the columns this version reads, else only their count (readTableAsFound; review 140: a service of an
 * earlier version keeps its schema-13 table until it restarts on this one).
 */
export const readDeadLettersAsFound = (db: Database.Database, limit?: number): { readonly rows?: DeadLetter[]; readonly total?: number } =>
  readTableAsFound(db, 'cascade_dead_letters', READ, () => deadLetters(db, limit));
