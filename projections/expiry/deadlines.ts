import type Database from 'better-sqlite3';
import { prepared, type QueryIndex } from '../runtime/index.ts';

/** One scheduled fact: at `due` (epoch ms) issue `command` against `stream`. `purpose` keeps rotation and expiry apart. */
export interface Deadline {
  readonly stream: string;
  readonly purpose: 'expiry' | 'rotation';
  readonly due: number;
  readonly command: { readonly type: string; readonly data: Record<string, unknown> };
  /**
   * A rotation's deadline: the id of the CredentialRotationStarted whose overlap it ends, which the commands ending it
   * derive their ids from (review 344: from the credential and the instant alone, a rotation started again with the
   * same overlapEndsAt was answered as a repeat of the one before). Absent on a deadline an earlier version wrote.
   */
  readonly rotation?: string;
}

/** What a tick reads the due deadlines by; `apply` puts and drops them by primary key. */
export const DEADLINES_DUE_INDEX: QueryIndex = {
  name: 'expiry_deadlines_due',
  create: 'CREATE INDEX IF NOT EXISTS expiry_deadlines_due ON expiry_deadlines (due)',
};

export const setupDeadlines = (db: Database.Database): void => {
  db.exec(`CREATE TABLE IF NOT EXISTS expiry_deadlines (
    stream TEXT NOT NULL,
    purpose TEXT NOT NULL,
    due INTEGER NOT NULL,
    command TEXT NOT NULL,
    PRIMARY KEY (stream, purpose)
  ) WITHOUT ROWID`);
  // Added in place (review 344), not by a schema version: that would drop the dead letters, which no event rebuilds. A
  // deadline written before keeps no rotation, and its commands the ids they had; an earlier version ignores the column.
  const columns = db.prepare('SELECT name FROM pragma_table_info(?)').all('expiry_deadlines') as { name: string }[];
  if (!columns.some((c) => c.name === 'rotation')) {
    try {
      db.exec('ALTER TABLE expiry_deadlines ADD COLUMN rotation TEXT');
    } catch (error) {
      // Another process opening the same file added it first.
      if (!/duplicate column/i.test(String(error))) throw error;
    }
  }
  db.exec(DEADLINES_DUE_INDEX.create);
};

export const resetDeadlines = (db: Database.Database): void => {
  db.exec('DELETE FROM expiry_deadlines');
};

export const putDeadline = (db: Database.Database, d: Deadline): void => {
  prepared(
    db,
    `INSERT INTO expiry_deadlines (stream, purpose, due, command, rotation) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT(stream, purpose) DO UPDATE SET due = excluded.due, command = excluded.command, rotation = excluded.rotation`,
  ).run(d.stream, d.purpose, d.due, JSON.stringify(d.command), d.rotation ?? null);
};

/** Rows per statement when a batch writes its deadlines (5 columns x 32 parameters). */
const DEADLINES_PER_STATEMENT = 32;

/**
 * What a batch of events leaves, written at once: every deadline of each stream in `cleared` dropped, then each of
 * `puts` written over its (stream, purpose). Equal to `dropDeadlines` and `putDeadline` in the events' order when
 * `puts` holds only what came after its stream's last drop.
 */
export const writeDeadlines = (db: Database.Database, cleared: readonly string[], puts: readonly Deadline[]): void => {
  if (cleared.length > 0) prepared(db, 'DELETE FROM expiry_deadlines WHERE stream IN (SELECT value FROM json_each(?))').run(JSON.stringify(cleared));
  const head = 'INSERT OR REPLACE INTO expiry_deadlines (stream, purpose, due, command, rotation) VALUES ';
  const many = prepared(db, head + Array(DEADLINES_PER_STATEMENT).fill('(?, ?, ?, ?, ?)').join(', '));
  const values: unknown[] = [];
  let i = 0;
  for (; i + DEADLINES_PER_STATEMENT <= puts.length; i += DEADLINES_PER_STATEMENT) {
    values.length = 0;
    for (let k = i; k < i + DEADLINES_PER_STATEMENT; k++) {
      values.push(puts[k]!.stream, puts[k]!.purpose, puts[k]!.due, JSON.stringify(puts[k]!.command), puts[k]!.rotation ?? null);
    }
    many.run(...values);
  }
  for (; i < puts.length; i++) putDeadline(db, puts[i]!);
};

/** Drops a stream's deadline of one purpose (a rotation abandoned: its overlap ends nothing any more). */
export const dropPurpose = (db: Database.Database, stream: string, purpose: Deadline['purpose']): void => {
  prepared(db, 'DELETE FROM expiry_deadlines WHERE stream = ? AND purpose = ?').run(stream, purpose);
};

export const dropDeadlines = (db: Database.Database, stream: string): void => {
  prepared(db, 'DELETE FROM expiry_deadlines WHERE stream = ?').run(stream);
};

/**
 * Drops the deadline that was read, and only it: one the projection wrote for the stream meanwhile (a rotation started
 * again, while the tick awaited the engine) has another `due` and stays.
 */
export const dropDeadline = (db: Database.Database, d: Pick<Deadline, 'stream' | 'purpose' | 'due'>): void => {
  prepared(db, 'DELETE FROM expiry_deadlines WHERE stream = ? AND purpose = ? AND due = ?').run(d.stream, d.purpose, d.due);
};

/** Where a tick stopped reading the due deadlines: the last one it read, in their order (due, stream, purpose's rank). */
export type DeadlineCursor = Pick<Deadline, 'due' | 'stream' | 'purpose'>;

/**
 * A stream's deadlines due at the same instant, rotation first. A rotation's overlap may end at its credential's
 * notAfter (successorLinked), and the overlap's end decides what its node held then (HLR-212): read after the expiry,
 * as the purposes' names sort, the predecessor was expired instead of revoked as superseded (review 139). Ordered in
 * the query alone: the due index is on `due`, and the table's rows are as they were.
 */
const PURPOSE_RANK = "CASE purpose WHEN 'rotation' THEN 0 ELSE 1 END";
const rankOf = (purpose: Deadline['purpose']): number => (purpose === 'rotation' ? 0 : 1);
const DUE_ORDER = `ORDER BY due, stream, ${PURPOSE_RANK}`;

/** Due deadlines in order (due, stream, rotation before expiry), `limit` at most, from just after `after` when given. */
export const dueDeadlines = (db: Database.Database, now: number, limit = 1000, after?: DeadlineCursor): Deadline[] =>
  (
    (after === undefined
      ? prepared(db, `SELECT stream, purpose, due, command, rotation FROM expiry_deadlines WHERE due <= ? ${DUE_ORDER} LIMIT ?`).all(now, limit)
      : prepared(
          db,
          `SELECT stream, purpose, due, command, rotation FROM expiry_deadlines WHERE due <= ? AND (due, stream, ${PURPOSE_RANK}) > (?, ?, ?) ${DUE_ORDER} LIMIT ?`,
        ).all(now, after.due, after.stream, rankOf(after.purpose), limit)) as {
      stream: string;
      purpose: Deadline['purpose'];
      due: bigint;
      command: string;
      rotation: string | null;
    }[]
  ).map((r) => ({ stream: r.stream, purpose: r.purpose, due: Number(r.due), command: JSON.parse(r.command), ...(r.rotation === null ? {} : { rotation: r.rotation }) }));

export const nextDeadline = (db: Database.Database): number | undefined => {
  const row = prepared(db, 'SELECT MIN(due) AS due FROM expiry_deadlines').get() as { due: bigint | null };
  return row.due === null ? undefined : Number(row.due);
};
