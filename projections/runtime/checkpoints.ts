import type Database from 'better-sqlite3';
import { prepared } from './statements.ts';

export const setupCheckpoints = (db: Database.Database): void => {
  db.exec(`CREATE TABLE IF NOT EXISTS projection_checkpoints (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    occurred_at TEXT NOT NULL
  )`);
};

export interface Checkpoint {
  readonly position: bigint;
  readonly occurredAt: string;
}

export const readCheckpoint = (db: Database.Database, name: string): Checkpoint | undefined => {
  const row = prepared(db, 'SELECT position, occurred_at FROM projection_checkpoints WHERE name = ?').get(name) as
    | { position: bigint; occurred_at: string }
    | undefined;
  return row === undefined ? undefined : { position: BigInt(row.position), occurredAt: row.occurred_at };
};

/** Moves a checkpoint forward only: a late writer can never take a projection back over handled events. */
export const writeCheckpoint = (db: Database.Database, name: string, checkpoint: Checkpoint): void => {
  prepared(
    db,
    `INSERT INTO projection_checkpoints (name, position, occurred_at) VALUES (?, ?, ?)
     ON CONFLICT(name) DO UPDATE SET position = excluded.position, occurred_at = excluded.occurred_at
     WHERE excluded.position > projection_checkpoints.position`,
  ).run(name, checkpoint.position, checkpoint.occurredAt);
};

export const deleteCheckpoint = (db: Database.Database, name: string): void => {
  prepared(db, 'DELETE FROM projection_checkpoints WHERE name = ?').run(name);
};
