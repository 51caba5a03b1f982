import type Database from 'better-sqlite3';
import { prepared } from '../runtime/index.ts';

/**
 * Reactions the cascade could not carry out and will not retry by itself: the target's history is broken (replay
 * says where). Recorded, logged and left for an operator, so that one poisoned stream never stops every later
 * revocation from cascading. Transient failures (a conflict past the engine's retries) are retried instead.
 */
export interface DeadLetter {
  readonly position: bigint;
  readonly eventType: string;
  readonly command: string;
  readonly target: string;
  readonly reason: string;
}

export const setupDeadLetters = (db: Database.Database): void => {
  db.exec(`CREATE TABLE IF NOT EXISTS cascade_dead_letters (
    position INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    command TEXT NOT NULL,
    target TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (position, command, target)
  ) WITHOUT ROWID`);
};

export const resetDeadLetters = (db: Database.Database): void => {
  db.exec('DELETE FROM cascade_dead_letters');
};

export const addDeadLetter = (db: Database.Database, d: DeadLetter): void => {
  prepared(db, 'INSERT OR REPLACE INTO cascade_dead_letters (position, event_type, command, target, reason) VALUES (?, ?, ?, ?, ?)').run(
    d.position, d.eventType, d.command, d.target, d.reason,
  );
};

export const deadLetters = (db: Database.Database): DeadLetter[] =>
  (prepared(db, 'SELECT position, event_type, command, target, reason FROM cascade_dead_letters ORDER BY position, command, target').all() as {
    position: bigint; event_type: string; command: string; target: string; reason: string;
  }[]).map((r) => ({ position: BigInt(r.position), eventType: r.event_type, command: r.command, target: r.target, reason: r.reason }));

/** How many there are, without reading them: what the service's metrics report. */
export const deadLetterCount = (db: Database.Database): number =>
  Number((prepared(db, 'SELECT count(*) AS n FROM cascade_dead_letters').get() as { n: bigint | number }).n);
