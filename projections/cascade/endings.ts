import type Database from 'better-sqlite3';
import { prepared } from '../runtime/index.ts';

/**
 * How an entity ended (revoked, or expired with what it depended on): the event, and the event that caused it. A
 * cascade's command carries its causing event's id as causationId, so following `causeEventId` through this table
 * walks a cascade back to where it started.
 */
export interface Ending {
  readonly streamId: string;
  readonly eventId: string;
  readonly position: bigint;
  readonly type: string;
  readonly reason?: string;
  readonly causeEventId: string;
  /** Ended by the process manager's command: a cascade, or a re-check that found a parent already ended. */
  readonly byCascade: boolean;
  /**
   * The revocation's reason raised later (to keyCompromise, once: machines v5, `raisesToKeyCompromise`) by a second
   * revocation of the stream: shown beside the first ending, never instead of it (review 212, SER-010).
   */
  readonly raised?: Raise;
}

export interface Raise {
  readonly reason: string;
  readonly position: bigint;
  readonly eventId: string;
}

interface EndingRow {
  stream_id: string;
  event_id: string;
  position: bigint;
  type: string;
  reason: string | null;
  cause_event_id: string;
  by_cascade: bigint | number;
  /** Absent from an App-ID's enrolment end (cascade_enrolment_ends has no raise). */
  raised_reason?: string | null;
  raised_position?: bigint | null;
  raised_event_id?: string | null;
}

const toEnding = (r: EndingRow): Ending => ({
  streamId: r.stream_id,
  eventId: r.event_id,
  position: BigInt(r.position),
  type: r.type,
  ...(r.reason !== null ? { reason: r.reason } : {}),
  causeEventId: r.cause_event_id,
  byCascade: Number(r.by_cascade) === 1,
  ...(typeof r.raised_reason === 'string' && r.raised_position != null && typeof r.raised_event_id === 'string'
    ? { raised: { reason: r.raised_reason, position: BigInt(r.raised_position), eventId: r.raised_event_id } }
    : {}),
});

/**
 * The first ending of a stream is kept: the cascade decided from it, and a dependent ended later inherits its reason
 * (the cascade raises nothing). The one second ending a final state takes, a revocation's reason raised to
 * keyCompromise (machines v5, `raisesToKeyCompromise`), is kept beside it: the graph showed the first reason alone
 * while the entity, OCSP and the CRL said keyCompromise (review 212, SER-010).
 */
export const addEnding = (db: Database.Database, e: Ending): void => {
  const first = prepared(
    db,
    'INSERT OR IGNORE INTO cascade_endings (stream_id, event_id, position, type, reason, cause_event_id, by_cascade) VALUES (?, ?, ?, ?, ?, ?, ?)',
  ).run(e.streamId, e.eventId, e.position, e.type, e.reason ?? null, e.causeEventId, e.byCascade ? 1 : 0);
  if (first.changes > 0 || e.reason === undefined) return;
  // Once: the machine takes no further raise, and the same event handled again (a batch re-run) changes nothing.
  prepared(
    db,
    'UPDATE cascade_endings SET raised_reason = ?, raised_position = ?, raised_event_id = ? WHERE stream_id = ? AND type = ? AND event_id <> ? AND raised_event_id IS NULL',
  ).run(e.reason, e.position, e.eventId, e.streamId, e.type, e.eventId);
};

export const endingOf = (db: Database.Database, streamId: string): Ending | undefined => {
  const row = prepared(db, 'SELECT * FROM cascade_endings WHERE stream_id = ?').get(streamId) as EndingRow | undefined;
  return row === undefined ? undefined : toEnding(row);
};

/** The ending (or App-ID enrolment end) an event recorded: how a cascade is walked back through its causes. */
export const endingByEventId = (db: Database.Database, eventId: string): Ending | undefined => {
  const row = prepared(db, 'SELECT * FROM cascade_endings WHERE event_id = ?').get(eventId) as EndingRow | undefined;
  if (row !== undefined) return toEnding(row);
  const end = prepared(db, "SELECT *, 'ApplicationEnrolmentEnded' AS type FROM cascade_enrolment_ends WHERE event_id = ?").get(eventId) as EndingRow | undefined;
  return end === undefined ? undefined : toEnding(end);
};

/**
 * An App-ID's enrolment ended: not an ending of the App-ID (it stays registered, and takes commands), but a link
 * in the chain of causes between its credential's end and its instances' revocations.
 */
export const addEnrolmentEnd = (db: Database.Database, e: Omit<Ending, 'type'>, credential: string): void => {
  prepared(
    db,
    'INSERT OR IGNORE INTO cascade_enrolment_ends (event_id, stream_id, position, reason, cause_event_id, by_cascade, credential) VALUES (?, ?, ?, ?, ?, ?, ?)',
  ).run(e.eventId, e.streamId, e.position, e.reason ?? null, e.causeEventId, e.byCascade ? 1 : 0, credential);
};

/** How the App-ID's enrolment with `credential` (a stream id) ended, when it did: the last such end. */
export const enrolmentEndOf = (db: Database.Database, application: string, credential: string): Ending | undefined => {
  const row = prepared(
    db,
    "SELECT *, 'ApplicationEnrolmentEnded' AS type FROM cascade_enrolment_ends WHERE stream_id = ? AND credential = ? ORDER BY position DESC LIMIT 1",
  ).get(application, credential) as EndingRow | undefined;
  return row === undefined ? undefined : toEnding(row);
};
