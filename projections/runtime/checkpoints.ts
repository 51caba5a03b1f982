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
   * checkpoints written before it was kept, and in one an earlier version moved on since (boundStream).
   */
  readonly streamId?: string;
}

/*
 * Review 291 L: an earlier version run on this file (a downgrade) moves a checkpoint on setting position, occurred_at
 * and event_id only, and leaves stream_id: read as it was, the checkpoint paired one record's id with another record's
 * stream, by which log-check.ts tells an application's record from Credence's own. So the column holds the stream bound
 * to its event, `<eventId> <streamId>`, and is read only while event_id still names that event: otherwise the row is
 * an old one, judged by its id and occurredAt. Event ids are UUIDs (a space in none): the first space ends the id, and
 * a stream is never written for an id with one. A row of c341c87c (the stream alone) reads as an old one too.
 */
const boundStream = (eventId: string | undefined, streamId: string | undefined): string | null =>
  eventId === undefined || streamId === undefined || eventId.includes(' ') ? null : `${eventId} ${streamId}`;

const streamOf = (eventId: string | null | undefined, bound: string | null | undefined): string | undefined => {
  if (typeof eventId !== 'string' || typeof bound !== 'string' || eventId.includes(' ')) return undefined;
  return bound.startsWith(`${eventId} `) ? bound.slice(eventId.length + 1) : undefined;
};

/**
 * Every column the file has (`*`): a status command beside a running service reads its file without setting it up
 * (bin/commands/folder-lock.ts), and an earlier version's service has not added the newer columns; theirs read absent.
 */
export const readCheckpoint = (db: Database.Database, name: string): Checkpoint | undefined => {
  const row = prepared(db, 'SELECT * FROM projection_checkpoints WHERE name = ?').get(name) as
    | { position: bigint; occurred_at: string; event_id?: string | null; stream_id?: string | null }
    | undefined;
  if (row === undefined) return undefined;
  const streamId = streamOf(row.event_id, row.stream_id);
  return {
    position: BigInt(row.position),
    occurredAt: row.occurred_at,
    ...(typeof row.event_id === 'string' ? { eventId: row.event_id } : {}),
    ...(streamId === undefined ? {} : { streamId }),
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
  ).run(name, checkpoint.position, checkpoint.occurredAt, checkpoint.eventId ?? null, boundStream(checkpoint.eventId, checkpoint.streamId));
};

export const deleteCheckpoint = (db: Database.Database, name: string): void => {
  prepared(db, 'DELETE FROM projection_checkpoints WHERE name = ?').run(name);
};
