import type Database from 'better-sqlite3';
import { prepared } from './statements.ts';

export const setupCheckpoints = (db: Database.Database): void => {
  db.exec(`CREATE TABLE IF NOT EXISTS projection_checkpoints (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    occurred_at TEXT NOT NULL,
    event_id TEXT,
    stream_id TEXT
  )`);
  // A file from before the event id (or the stream) was kept: its rows stay (NULL), and each is filled by its
  // projection's next batch. Looked at first without a write lock (a second process opens a file the service is
  // writing); added in an immediate transaction, looked at again there, so that two processes opening the same old
  // file do not both add it.
  const missing = (): string[] => {
    const columns = (db.prepare('PRAGMA table_info(projection_checkpoints)').all() as { name: string }[]).map((c) => c.name);
    return ['event_id', 'stream_id'].filter((c) => !columns.includes(c));
  };
  if (missing().length === 0) return;
  const addColumns = db.transaction(() => {
    for (const column of missing()) db.exec(`ALTER TABLE projection_checkpoints ADD COLUMN ${column} TEXT`);
  });
  if (db.inTransaction) addColumns();
  else addColumns.immediate();
};

export interface Checkpoint {
  readonly position: bigint;
  readonly occurredAt: string;
  /**
   * The id of the event at `position`: with it a read model can tell a log that is not the one it was built from
   * (projections/runtime/log-check.ts). Absent in checkpoints written before it was kept.
   */
  readonly eventId?: string;
  /**
   * The stream of the record at `position`: whether it is Credence's own (domain/own-record.ts) is what tells one of
   * its fact claims (a random id, no `occurredAt`) from another application's record (log-check.ts). Absent in
   * checkpoints written before it was kept.
   */
  readonly streamId?: string;
}

/**
 * Every column the file has (`*`): a status command beside a running service reads its file without setting it up
 * (bin/commands/folder-lock.ts), and an earlier version's service has not added the newer columns; theirs read absent.
 */
export const readCheckpoint = (db: Database.Database, name: string): Checkpoint | undefined => {
  const row = prepared(db, 'SELECT * FROM projection_checkpoints WHERE name = ?').get(name) as
    | { position: bigint; occurred_at: string; event_id?: string | null; stream_id?: string | null }
    | undefined;
  if (row === undefined) return undefined;
  return {
    position: BigInt(row.position),
    occurredAt: row.occurred_at,
    ...(typeof row.event_id === 'string' ? { eventId: row.event_id } : {}),
    ...(typeof row.stream_id === 'string' ? { streamId: row.stream_id } : {}),
  };
};

/** Moves a checkpoint forward only: a late writer can never take a projection back over handled events. */
export const writeCheckpoint = (db: Database.Database, name: string, checkpoint: Checkpoint): void => {
  prepared(
    db,
    `INSERT INTO projection_checkpoints (name, position, occurred_at, event_id, stream_id) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT(name) DO UPDATE SET position = excluded.position, occurred_at = excluded.occurred_at, event_id = excluded.event_id,
       stream_id = excluded.stream_id
     WHERE excluded.position > projection_checkpoints.position`,
  ).run(name, checkpoint.position, checkpoint.occurredAt, checkpoint.eventId ?? null, checkpoint.streamId ?? null);
};

export const deleteCheckpoint = (db: Database.Database, name: string): void => {
  prepared(db, 'DELETE FROM projection_checkpoints WHERE name = ?').run(name);
};
