import type Database from 'better-sqlite3';
import { prepared, type CommandIdTaken } from '../runtime/index.ts';
import { readTableAsFound } from '../runtime/table-as-found.ts';
import type { Deadline } from './deadlines.ts';

/**
 * Due deadlines the scheduler cannot carry out and will not retry by itself: the command id it derives for one is held
 * on the stream by a command that is not its own (an operator's, stored before admission reserved derived ids), so its
 * command can never be recorded under it. The deadline is dropped and the dead letter kept for an operator, who ends
 * the entity by hand; a rebuild reads the deadline again and dead-letters it again, as the cascade's dead letters are
 * (projections/cascade/dead-letters.ts). The entity is never counted as ended. Its final event (the operator's end)
 * drops its dead letters with its deadlines, and an abandoned rotation its rotation one (dropExpiryDeadLetters).
 */
export interface ExpiryDeadLetter {
  readonly stream: string;
  readonly purpose: Deadline['purpose'];
  readonly due: number;
  /** The command type the deadline would have issued. */
  readonly command: string;
  readonly commandId: string;
  readonly code: CommandIdTaken['code'];
  readonly reason: string;
}

export const setupExpiryDeadLetters = (db: Database.Database): void => {
  db.exec(`CREATE TABLE IF NOT EXISTS expiry_dead_letters (
    stream TEXT NOT NULL,
    purpose TEXT NOT NULL,
    due INTEGER NOT NULL,
    command TEXT NOT NULL,
    command_id TEXT NOT NULL,
    code TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (stream, purpose, due)
  ) WITHOUT ROWID`);
};

export const resetExpiryDeadLetters = (db: Database.Database): void => {
  db.exec('DELETE FROM expiry_dead_letters');
};

/**
 * The stream's dead letters (of `purpose` only, when given) dropped with the deadlines they came from: its entity
 * ended (an operator ended it by hand, as a dead letter asks), or its rotation abandoned. What the table holds then
 * depends on the log alone, as a rebuild, which never reads those deadlines as due, would leave it.
 */
export const dropExpiryDeadLetters = (db: Database.Database, stream: string, purpose?: Deadline['purpose']): void => {
  if (purpose === undefined) prepared(db, 'DELETE FROM expiry_dead_letters WHERE stream = ?').run(stream);
  else prepared(db, 'DELETE FROM expiry_dead_letters WHERE stream = ? AND purpose = ?').run(stream, purpose);
};

export const addExpiryDeadLetter = (db: Database.Database, d: ExpiryDeadLetter): void => {
  prepared(
    db,
    'INSERT OR REPLACE INTO expiry_dead_letters (stream, purpose, due, command, command_id, code, reason) VALUES (?, ?, ?, ?, ?, ?, ?)',
  ).run(d.stream, d.purpose, d.due, d.command, d.commandId, d.code, d.reason);
};

interface ExpiryDeadLetterRow {
  stream: string;
  purpose: Deadline['purpose'];
  due: bigint | number;
  command: string;
  command_id: string;
  code: CommandIdTaken['code'];
  reason: string;
}

const READ = ['stream', 'purpose', 'due', 'command', 'command_id', 'code', 'reason'] as const;
// The table's key: an order that holds across reads and rebuilds, the longest-overdue first.
const COLUMNS = `${READ.join(', ')} FROM expiry_dead_letters ORDER BY due, stream, purpose`;

/** The letters, longest overdue first; the first `limit` only, when given (what GET /v1/projections lists). */
export const expiryDeadLetters = (db: Database.Database, limit?: number): ExpiryDeadLetter[] =>
  ((limit === undefined ? prepared(db, `SELECT ${COLUMNS}`).all() : prepared(db, `SELECT ${COLUMNS} LIMIT ?`).all(limit)) as ExpiryDeadLetterRow[]).map((r) => ({
    stream: r.stream, purpose: r.purpose, due: Number(r.due), command: r.command, commandId: r.command_id, code: r.code, reason: r.reason,
  }));

/** How many there are, without reading them: what the service's metrics report. */
export const expiryDeadLetterCount = (db: Database.Database): number =>
  Number((prepared(db, 'SELECT count(*) AS n FROM expiry_dead_letters').get() as { n: bigint | number }).n);

/**
 * What a reader that sets nothing up finds (`credence projections` beside a running service): the letters, or only
 * their count, or nothing from a version before the table (readTableAsFound, as the cascade's are read).
 */
export const readExpiryDeadLettersAsFound = (db: Database.Database, limit?: number): { readonly rows?: ExpiryDeadLetter[]; readonly total?: number } =>
  readTableAsFound(db, 'expiry_dead_letters', READ, () => expiryDeadLetters(db, limit));
