import type Database from 'better-sqlite3';
import type { DecodedEvent } from '../../domain/stored.ts';
import type { SignatureJudgement } from './signature.ts';
import { ensureSchemaVersion, prepared, type QueryIndex } from '../runtime/index.ts';

/**
 * Version 2 added `event_key` and `cause_key`: 32-bit hashes of the event id and the causation id. The cause of
 * an entry is found through a small integer index instead of one on the 36-character event ids, whose entries
 * land in random pages (a catch-up batch dirtied most of that index's pages and rewrote them at every commit).
 *
 * Version 3 leaves `correlation_id` and `causation_id` NULL when they are the command id (issue 15 item 5), as they
 * are for every command a person or a client sent (two thirds of a fleet's events): binding a NULL costs SQLite and
 * better-sqlite3 far less than a 36-character string, and such a row is a quarter narrower. The queries give back
 * exactly the values recorded (queries.ts).
 *
 * Version 4 adds `signature_reason`: why a signature is `invalid` (review 182); rows judged before have none, so the
 * trail is judged again.
 *
 * Version 5 adds `token_id`, `token_issued_by` and `token_issued_with`: the API token a command came with, who issued
 * it and the token that one was issued with, as its events record them (reviews 188, 196). Review 188 had added the
 * first two to version 4 in place; the build before, also version 4, then went on catching up in such a file, writing
 * rows without the tokens it decodes away, and nothing here rebuilt them (review 196). Under a new version, a build that
 * does not know these columns drops the table it finds (ensureSchemaVersion rebuilds a newer version's file too) rather
 * than write into it, and this build rebuilds whatever such a build wrote.
 */
const AUDIT_SCHEMA_VERSION = 5;

/**
 * Timelines by stream, actions by actor, causes by event id: read by queries only (projection.ts). An actor's actions
 * are listed a page at a time in log order (`after`, `LIMIT`): with no window, by (actor, position), each page reads
 * its own rows (the index by (actor, time) alone read and sorted the actor's whole history for every page, found in
 * review); within a window, by (actor, time), the window's rows (by position alone a window read every row of the
 * actor before or after it). The (actor, time) index is kept under a new name, and the one by its old name dropped,
 * so that a read model written before builds both once at setup.
 *
 * A token's actions (`tokenId`, review 196) are paged the same way through (token_id, position) and (token_id, at).
 * Partial, `WHERE token_id IS NOT NULL`: the engine's own commands and the command line's come with no token, and
 * their rows cost these indexes nothing (`token_id = ?` implies the condition, so SQLite reads them for it). Built in
 * place, with no new schema version: every version 5 file already holds `token_id` for every row it wrote, so an index
 * made over its rows by `CREATE INDEX IF NOT EXISTS` (setup, at the first start of this build) is complete; and, as the
 * other query indexes, it is dropped for a catch-up from position 0 and built once at its end (runtime/query-indexes.ts).
 */
export const AUDIT_QUERY_INDEXES: readonly QueryIndex[] = [
  { name: 'audit_events_stream', create: 'CREATE INDEX IF NOT EXISTS audit_events_stream ON audit_events (stream_id, revision)' },
  { name: 'audit_events_actor_position', create: 'CREATE INDEX IF NOT EXISTS audit_events_actor_position ON audit_events (actor_id, position)' },
  { name: 'audit_events_actor_time', create: 'CREATE INDEX IF NOT EXISTS audit_events_actor_time ON audit_events (actor_id, at)' },
  {
    name: 'audit_events_token_position',
    create: 'CREATE INDEX IF NOT EXISTS audit_events_token_position ON audit_events (token_id, position) WHERE token_id IS NOT NULL',
  },
  { name: 'audit_events_token_time', create: 'CREATE INDEX IF NOT EXISTS audit_events_token_time ON audit_events (token_id, at) WHERE token_id IS NOT NULL' },
  { name: 'audit_events_event_key', create: 'CREATE INDEX IF NOT EXISTS audit_events_event_key ON audit_events (event_key)' },
];

export const setupAuditTables = (db: Database.Database): void => {
  ensureSchemaVersion(db, 'audit', AUDIT_SCHEMA_VERSION, ['audit_events']);
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
    correlation_id TEXT,
    causation_id TEXT,
    reason TEXT,
    signature_status TEXT NOT NULL,
    signature_key TEXT,
    signature_reason TEXT,
    token_id TEXT,
    token_issued_by TEXT,
    token_issued_with TEXT,
    event_key INTEGER NOT NULL,
    cause_key INTEGER NOT NULL
  )`);
  db.exec('DROP INDEX IF EXISTS audit_events_actor');
  for (const index of AUDIT_QUERY_INDEXES) db.exec(index.create);
};

export const resetAuditTables = (db: Database.Database): void => {
  db.exec('DELETE FROM audit_events');
};

/** The reason an event states, when it has one (revocations, terminations, resolutions). */
const reasonOf = (e: DecodedEvent): string | null => {
  const reason = (e.event.data as { reason?: unknown }).reason;
  return typeof reason === 'string' ? reason : null;
};

/** FNV-1a (32 bits) of an id: the key of `event_key` and `cause_key`. Collisions only cost a comparison of the ids. */
export const idKey = (id: string): number => {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  return hash >>> 0;
};

const COLUMNS = `position, event_id, stream_id, revision, type, occurred_at, at, actor_id, actor_role, command_id, command_type,
  correlation_id, causation_id, reason, signature_status, signature_key, signature_reason, token_id, token_issued_by, token_issued_with, event_key, cause_key`;
const ROW = '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
/** Rows per INSERT when many are written at once: one statement step instead of 32 (22 x 32 parameters). */
const ROWS_PER_INSERT = 32;
/*
 * Parameters are passed spread (`run(...values)`), not as one array: better-sqlite3 then reads them from the call's
 * arguments instead of one `Get` per element on the array, about a quarter less CPU per row (measured at 18 x 32).
 */
const INSERT_ONE = `INSERT OR IGNORE INTO audit_events (${COLUMNS}) VALUES ${ROW}`;
const INSERT_MANY = `INSERT OR IGNORE INTO audit_events (${COLUMNS}) VALUES ${Array(ROWS_PER_INSERT).fill(ROW).join(', ')}`;

/** NULL when `id` is the command id, the common case (version 3). */
const unlessCommandId = (id: string, commandId: string): string | null => (id === commandId ? null : id);

const pushRow = (values: unknown[], e: DecodedEvent, signature: SignatureJudgement): void => {
  const { record, metadata } = e;
  const commandId = metadata.commandId;
  values.push(
    record.position,
    record.id,
    record.streamId,
    record.revision,
    e.event.type,
    metadata.occurredAt,
    e.at,
    metadata.actor.id,
    metadata.actor.role,
    commandId,
    metadata.commandType,
    unlessCommandId(metadata.correlationId, commandId),
    unlessCommandId(metadata.causationId, commandId),
    reasonOf(e),
    signature.status,
    metadata.signature?.keyFingerprint ?? null,
    signature.reason ?? null,
    metadata.token?.id ?? null,
    metadata.token?.issuedBy ?? null,
    metadata.token?.issuedWith ?? null,
    idKey(record.id),
    idKey(metadata.causationId),
  );
};

/** Keyed on the global position: writing the same event twice leaves one row (idempotent). */
export const insertAuditRow = (db: Database.Database, e: DecodedEvent, signature: SignatureJudgement): void => {
  const values: unknown[] = [];
  pushRow(values, e, signature);
  prepared(db, INSERT_ONE).run(...values);
};

/** The rows of many events, as `insertAuditRow` on each in turn would write them. */
export const insertAuditRows = (db: Database.Database, events: readonly DecodedEvent[], signatureOf: (e: DecodedEvent) => SignatureJudgement): void => {
  const many = prepared(db, INSERT_MANY);
  const values: unknown[] = [];
  let i = 0;
  for (; i + ROWS_PER_INSERT <= events.length; i += ROWS_PER_INSERT) {
    values.length = 0;
    for (let k = i; k < i + ROWS_PER_INSERT; k++) pushRow(values, events[k]!, signatureOf(events[k]!));
    many.run(...values);
  }
  for (; i < events.length; i++) insertAuditRow(db, events[i]!, signatureOf(events[i]!));
};
