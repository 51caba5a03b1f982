import type Database from 'better-sqlite3';
import type { Role } from '../../domain/metadata.ts';
import type { SignatureStatus } from './signature.ts';

/** One line of an entity's timeline. */
export interface AuditEntry {
  /** Global position: what the non-repudiation log proves inclusion of. */
  readonly position: bigint;
  readonly eventId: string;
  readonly streamId: string;
  readonly revision: bigint;
  readonly type: string;
  readonly occurredAt: string;
  readonly actor: { readonly id: string; readonly role: Role };
  /**
   * The API token the command came with and who issued it, as its events record them (review 188): an admin may
   * issue a token under any subject, so the actor's id alone does not tell one holder of it from another. Absent on
   * events recorded before, and on commands that came with no token (the engine's own, the command line's).
   * `issuedWith`: the token it was issued with (review 196), which tells a token a second admin token of the same
   * subject issued from one the real admin did; absent for a token made on the command line, and before review 196.
   */
  readonly token?: { readonly id: string; readonly issuedBy: string; readonly issuedWith?: string };
  readonly commandId: string;
  readonly commandType: string;
  readonly correlationId: string;
  readonly causationId: string;
  /**
   * The event that caused this one, when the engine's own system actors recorded it (a cascade, a pseudonym rotation's
   * reaction) and its cause is a stored event (a scheduled expiry's is its deadline: none). Never for an operator's
   * event: its causationId is the client's word, kept as given, and presenting it as a cascade let an operator pin an
   * action on any revocation.
   */
  readonly causedBy?: { readonly position: bigint; readonly streamId: string; readonly type: string };
  readonly reason?: string;
  /** `reason`: why it is `invalid` (the verifier's word, e.g. `unknown_key`, `retired`, `does_not_verify`). */
  readonly signature: { readonly status: SignatureStatus; readonly keyFingerprint?: string; readonly reason?: string };
}

/** The audit trail's columns for what it judged of an event's request signature and the API token it came with. */
export interface AuditedColumns {
  signature_status: SignatureStatus;
  signature_key: string | null;
  signature_reason: string | null;
  token_id: string | null;
  token_issued_by: string | null;
  token_issued_with: string | null;
}

/** An entry's `token` from its columns, none when it came with none. */
const tokenOf = (r: AuditedColumns): Pick<AuditEntry, 'token'> =>
  r.token_id !== null && r.token_issued_by !== null
    ? { token: { id: r.token_id, issuedBy: r.token_issued_by, ...(r.token_issued_with !== null ? { issuedWith: r.token_issued_with } : {}) } }
    : {};

/** An entry's `signature` from its columns. */
const signatureOf = (r: AuditedColumns): AuditEntry['signature'] => ({
  status: r.signature_status,
  ...(r.signature_key !== null ? { keyFingerprint: r.signature_key } : {}),
  ...(r.signature_reason !== null ? { reason: r.signature_reason } : {}),
});

/**
 * An entry's `signature` and `token` from its columns, as the timeline and `actions` give them: for the compliance
 * `revocations`, which joins these columns by position (review 327) and so says of each what `actions` says.
 */
export const auditedOf = (r: AuditedColumns): Pick<AuditEntry, 'signature' | 'token'> => ({ signature: signatureOf(r), ...tokenOf(r) });

interface Row extends AuditedColumns {
  position: bigint;
  event_id: string;
  stream_id: string;
  revision: bigint;
  type: string;
  occurred_at: string;
  actor_id: string;
  actor_role: Role;
  command_id: string;
  command_type: string;
  correlation_id: string;
  causation_id: string;
  reason: string | null;
  signature_status: SignatureStatus;
  cause_position: bigint | null;
  cause_stream: string | null;
  cause_type: string | null;
}

/*
 * A correlation or causation id that is the command id is stored as NULL (tables.ts, version 3): given back here.
 * The cause is joined only for a `system` actor's event: the engine admits that role only from its own actors,
 * in process (executeAsSystem, adapters/engine/admission.ts), and they set the causation themselves; any other
 * causation is what a client sent.
 */
const SELECT = `SELECT a.position, a.event_id, a.stream_id, a.revision, a.type, a.occurred_at, a.actor_id, a.actor_role, a.command_id,
    a.command_type, COALESCE(a.correlation_id, a.command_id) AS correlation_id, COALESCE(a.causation_id, a.command_id) AS causation_id,
    a.reason, a.signature_status, a.signature_key, a.signature_reason, a.token_id, a.token_issued_by, a.token_issued_with, c.position AS cause_position, c.stream_id AS cause_stream, c.type AS cause_type
  FROM audit_events a LEFT JOIN audit_events c
    ON a.actor_role = 'system' AND c.event_key = a.cause_key AND c.event_id = COALESCE(a.causation_id, a.command_id)`;

const toEntry = (r: Row): AuditEntry => ({
  position: r.position,
  eventId: r.event_id,
  streamId: r.stream_id,
  revision: r.revision,
  type: r.type,
  occurredAt: r.occurred_at,
  actor: { id: r.actor_id, role: r.actor_role },
  ...tokenOf(r),
  commandId: r.command_id,
  commandType: r.command_type,
  correlationId: r.correlation_id,
  causationId: r.causation_id,
  ...(r.cause_position !== null ? { causedBy: { position: r.cause_position, streamId: r.cause_stream!, type: r.cause_type! } } : {}),
  ...(r.reason !== null ? { reason: r.reason } : {}),
  signature: signatureOf(r),
});

/** An entity's timeline in stream order. */
export const timeline = (db: Database.Database, streamId: string): AuditEntry[] =>
  (db.prepare(`${SELECT} WHERE a.stream_id = ? ORDER BY a.revision`).all(streamId) as Row[]).map(toEntry);

/**
 * At most `limit` entries of an entity's timeline after stream revision `afterRevision` (none: from its first). By
 * revision, not position, so that a page starts where the (stream_id, revision) index points, whatever came before.
 */
export const timelinePage = (db: Database.Database, streamId: string, page: { readonly limit: number; readonly afterRevision?: bigint }): AuditEntry[] =>
  (
    db.prepare(`${SELECT} WHERE a.stream_id = ? AND a.revision > ? ORDER BY a.revision LIMIT ?`).all(streamId, page.afterRevision ?? -1n, page.limit) as Row[]
  ).map(toEntry);

export interface TimeWindow {
  /** Inclusive. */
  readonly from?: Date;
  /** Exclusive. */
  readonly to?: Date;
}

export const windowBounds = (w: TimeWindow): [number, number] => [w.from?.getTime() ?? -8.64e15, w.to?.getTime() ?? 8.64e15];

/** At most `limit` rows after position `after`: one page of a listing in global order. */
export interface Page {
  readonly limit?: number;
  readonly after?: bigint;
}

/** SQLite's largest integer: no LIMIT short of it, no position beyond it. */
const NO_LIMIT = 9_223_372_036_854_775_807n;

/** The bindings of `position > ? ... LIMIT ?` for a page (none: every row). */
export const pageBounds = (page: Page): [bigint, bigint] => [page.after ?? -1n, page.limit === undefined ? NO_LIMIT : BigInt(page.limit)];

/**
 * Every event one actor caused, in global order (who did what, SER-016); a page of them when asked. A first page
 * within a window finds the window's rows by time (tables.ts); every other page reads the actor's rows in log order
 * from where the page before ended (+at: not by time), so paging through a wide window does not sort it again for
 * each page (found in review: some 14 ms a page per 50,000 rows of window).
 */
export const actionsOf = (db: Database.Database, actorId: string, window: TimeWindow = {}, page: Page = {}): AuditEntry[] =>
  (
    db
      .prepare(
        (window.from === undefined && window.to === undefined) || page.after !== undefined
          ? `${SELECT} WHERE a.actor_id = ? AND +a.at >= ? AND +a.at < ? AND a.position > ? ORDER BY a.position LIMIT ?`
          : `${SELECT} WHERE a.actor_id = ? AND a.at >= ? AND a.at < ? AND +a.position > ? ORDER BY +a.position LIMIT ?`,
      )
      .all(actorId, ...windowBounds(window), ...pageBounds(page)) as Row[]
  ).map(toEntry);

/**
 * Every event recorded with one API token, of one actor too when `actorId` is given (review 196: "everything done
 * with token X"), paged and windowed as `actionsOf` is: a first page within a window finds the window's rows by
 * (token, time), every other page reads the token's rows in log order by (token, position) from where the page before
 * ended (tables.ts). The actor only sifts the token's rows (`+`): a token acts as its one subject, so its rows are never
 * more than its actor's and the token's index is the one to read.
 */
export const actionsWithToken = (db: Database.Database, tokenId: string, actorId: string | undefined, window: TimeWindow = {}, page: Page = {}): AuditEntry[] =>
  (
    db
      .prepare(
        (window.from === undefined && window.to === undefined) || page.after !== undefined
          ? `${SELECT} WHERE a.token_id = ? AND (? IS NULL OR +a.actor_id = ?) AND +a.at >= ? AND +a.at < ? AND a.position > ? ORDER BY a.position LIMIT ?`
          : `${SELECT} WHERE a.token_id = ? AND (? IS NULL OR +a.actor_id = ?) AND a.at >= ? AND a.at < ? AND +a.position > ? ORDER BY +a.position LIMIT ?`,
      )
      .all(tokenId, actorId ?? null, actorId ?? null, ...windowBounds(window), ...pageBounds(page)) as Row[]
  ).map(toEntry);
