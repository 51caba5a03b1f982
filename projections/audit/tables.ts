import type Database from 'better-sqlite3';
import type { DecodedEvent } from '../../domain/stored.ts';
import type { SignatureStatus } from './signature.ts';
import { prepared } from '../runtime/index.ts';

export const setupAuditTables = (db: Database.Database): void => {
  db.exec(`CREATE TABLE IF NOT EXISTS audit_events (
    position INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    stream_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    type TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    at INTEGER NOT NULL,
    actor_id TEXT NOT NULL,
    actor_role TEXT NOT NULL,
    command_id TEXT NOT NULL,
    command_type TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    causation_id TEXT NOT NULL,
    reason TEXT,
    signature_status TEXT NOT NULL,
    signature_key TEXT
  );
  CREATE INDEX IF NOT EXISTS audit_events_stream ON audit_events (stream_id, revision);
  CREATE INDEX IF NOT EXISTS audit_events_actor ON audit_events (actor_id, at);
  CREATE INDEX IF NOT EXISTS audit_events_event_id ON audit_events (event_id)`);
};

export const resetAuditTables = (db: Database.Database): void => {
  db.exec('DELETE FROM audit_events');
};

/** The reason an event states, when it has one (revocations, terminations, resolutions). */
const reasonOf = (e: DecodedEvent): string | null => {
  const reason = (e.event.data as { reason?: unknown }).reason;
  return typeof reason === 'string' ? reason : null;
};

/** Keyed on the global position: writing the same event twice leaves one row (idempotent). */
export const insertAuditRow = (db: Database.Database, e: DecodedEvent, signature: SignatureStatus): void => {
  const { record, metadata } = e;
  prepared(db,
    `INSERT OR IGNORE INTO audit_events (position, event_id, stream_id, revision, type, occurred_at, at, actor_id, actor_role,
       command_id, command_type, correlation_id, causation_id, reason, signature_status, signature_key)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    record.position,
    record.id,
    record.streamId,
    record.revision,
    e.event.type,
    metadata.occurredAt,
    e.at,
    metadata.actor.id,
    metadata.actor.role,
    metadata.commandId,
    metadata.commandType,
    metadata.correlationId,
    metadata.causationId,
    reasonOf(e),
    signature,
    metadata.signature?.keyFingerprint ?? null,
  );
};
