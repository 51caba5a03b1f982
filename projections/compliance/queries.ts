import type Database from 'better-sqlite3';
import type { RevocationReason } from '../../domain/events/index.ts';
import { actionsOf, actionsWithToken, auditedOf, pageBounds, windowBounds, type AuditedColumns, type AuditEntry, type Page, type TimeWindow } from '../audit/index.ts';
import type { QueryInstant } from './instants.ts';

// Review 249: dangling-associations looks at every parent an association follows, in a file of its own.
export { danglingAssociations, type DanglingAssociationRow, type ParentEndedBy } from './dangling-associations.ts';
// Review 314: dangling-credentials, the credentials left live under an ended node or App-ID.
export { danglingCredentials, type DanglingCredentialRow, type OwnerEndedBy } from './dangling-credentials.ts';

/** Every answer row names the global position of the event that proves it (for an inclusion proof). */
export interface RevocationRow {
  readonly position: bigint;
  readonly streamId: string;
  readonly kind: string;
  readonly id: string;
  readonly reason: RevocationReason;
  /**
   * When the service refused it: the CRL's invalidityDate (its revocationDate where it has none) and OCSP's
   * invalidityDate (projections/revocation-instant).
   */
  readonly occurredAt: string;
  readonly actor: string;
  /** When the revocation was recorded: later than `occurredAt` for a handover or a lapse the scheduler recorded late. */
  readonly recordedAt: string;
  /**
   * What the audit trail judged of the request signature of the revocation's event, as its `actions` row says it
   * (review 327: a revocation written around the engine with another event's signed metadata read as its actor's, the
   * audit trail saying `invalid` / `does_not_verify`). Absent while the audit trail has not reached the event (the
   * answer's `eventsBehind` counts it).
   */
  readonly signature?: AuditEntry['signature'];
  /** The API token the revoking command came with, as its `actions` row names it (absent as it is there). */
  readonly token?: AuditEntry['token'];
}

/**
 * A revocation's row in the audit trail (its event's, joined by position): what its signature and token are read
 * from, never judged here again, and shaped as `actions` shapes them (../audit/queries.ts `auditedOf`). Joined rather
 * than asked of `actionsOf` row by row: that cost some 0.13 ms a row, over a second for a page of 10,000.
 */
const AUDITED = `a.signature_status, a.signature_key, a.signature_reason, a.token_id, a.token_issued_by, a.token_issued_with`;
const FROM_AUDITED = 'compliance_revocations r LEFT JOIN audit_events a ON a.position = r.position';

/** The audit trail's columns as the left join gives them: all NULL while it has not reached the event. */
type NullableAudited = Omit<AuditedColumns, 'signature_status'> & { signature_status: AuditedColumns['signature_status'] | null };

/**
 * Which instant a revocations window (and `newest`) goes by: `occurred`, when it took effect (`occurredAt`, dated back
 * for a handover or a late lapse, so a past window can gain a row recorded late), or `recorded`, when it was recorded
 * (`recordedAt`), which a window the read model has passed never gains (review 305).
 */
export type RevocationsBy = 'occurred' | 'recorded';

/**
 * Revocations (credentials, nodes, applications, associations) in a window, optionally of one reason, in log order;
 * or, `newest`, the latest first by when they happened (a page of them is the first `limit`; `after` is for log order).
 */
export const revocations = (
  db: Database.Database,
  filter: TimeWindow & { reason?: RevocationReason; by?: RevocationsBy } = {},
  page: Page = {},
  order: 'log' | 'newest' = 'log',
): RevocationRow[] => {
  // Each instant has its index (tables.ts); the column name is one of these two, never a caller's text. Named by the
  // revocations' alias: the audit trail joined (`FROM_AUDITED`) has an `at` of its own.
  const at = filter.by === 'recorded' ? 'r.recorded_ms' : 'r.at';
  // The reason is in the statement only when one is asked for (review 461): `(? IS NULL OR r.reason = ?)` is served by
  // no index, and a reason that matched nothing read every revocation (400,000: 63 to 199 ms). Asked for, it leads
  // each index read (reason first, tables.ts). One statement text per shape.
  const reason = filter.reason === undefined ? '' : 'AND r.reason = ?';
  return (
    db
      .prepare(
        // Without a window, the rows in log order from `after` (the table's own key, or the reason's index by
        // position): a page reads its own rows. With one, the index by time finds the window's rows first (`+`: not the
        // reason's by position, which read every later row of the reason for the last page of a past window). The newest
        // first come from the index by time read backwards (it ends in the position), which stops at `limit` whatever
        // the window: ordered by position, a window's every row was read and sorted for ten (0.44 s over a million
        // rows), and walking the key backwards read every newer row before an old window (found in review, twice).
        order === 'newest'
          ? `SELECT r.*, ${AUDITED} FROM ${FROM_AUDITED} WHERE ${at} >= ? AND ${at} < ? ${reason} AND r.position > ? ORDER BY ${at} DESC, r.position DESC LIMIT ?`
          : filter.from === undefined && filter.to === undefined
            ? `SELECT r.*, ${AUDITED} FROM ${FROM_AUDITED} WHERE +${at} >= ? AND +${at} < ? ${reason} AND r.position > ? ORDER BY r.position LIMIT ?`
            : `SELECT r.*, ${AUDITED} FROM ${FROM_AUDITED} WHERE ${at} >= ? AND ${at} < ? ${reason} AND +r.position > ? ORDER BY +r.position LIMIT ?`,
      )
      .all(...windowBounds(filter), ...(filter.reason === undefined ? [] : [filter.reason]), ...pageBounds(page)) as ({
      position: bigint;
      stream_id: string;
      kind: string;
      entity_id: string;
      reason: RevocationReason;
      occurred_at: string;
      actor_id: string;
      recorded_at: string | null;
    } & NullableAudited)[]
  ).map((r) => ({
    position: r.position,
    streamId: r.stream_id,
    kind: r.kind,
    id: r.entity_id,
    reason: r.reason,
    occurredAt: r.occurred_at,
    actor: r.actor_id,
    recordedAt: r.recorded_at ?? r.occurred_at,
    ...(r.signature_status !== null ? auditedOf({ ...r, signature_status: r.signature_status }) : {}),
  }));
};

/** Every action of one actor: the audit trail's events caused by it (the audit projection must be running). */
export const actionsOfActor = (db: Database.Database, actorId: string, window: TimeWindow = {}, page: Page = {}): AuditEntry[] =>
  actionsOf(db, actorId, window, page);

/** Whose actions: one actor's, or those recorded with one API token (its id, never the token), of that actor too when both. */
export type ActionsFilter = { readonly actor: string; readonly tokenId?: string | undefined } | { readonly actor?: string | undefined; readonly tokenId: string };

/** The actions `filter` names (the audit projection must be running), paged and windowed alike whichever it names. */
export const actionsBy = (db: Database.Database, filter: ActionsFilter, window: TimeWindow = {}, page: Page = {}): AuditEntry[] =>
  filter.tokenId !== undefined ? actionsWithToken(db, filter.tokenId, filter.actor, window, page) : actionsOf(db, filter.actor!, window, page);

/** The greatest INTEGER SQLite holds, 2^63 - 1: no listed position follows it. */
const MAX_SQLITE_INTEGER = 9_223_372_036_854_775_807n;

export interface ProvisionedRow {
  /** Position of the CredentialProvisioned event. */
  readonly position: bigint;
  /** Position of the NodeEnrolled event that put the owner under the subscription, in force at the provisioning. */
  readonly enrolmentPosition: bigint;
  /**
   * Position of the event that listed the row, which `after` pages by: the provisioning itself; for one provisioned
   * before any event named its identifier's node (pre-provisioning), the enrolment or association that named it.
   */
  readonly listedPosition: bigint;
  readonly credentialId: string;
  readonly nodeId: string;
  readonly method: string;
  readonly occurredAt: string;
}

/**
 * Credentials provisioned while their owner node was enrolled under the M2M Service Subscription (seed 003, 11.2.1),
 * in the order they were listed (review 101): a row held back until its node was known is listed when it is written,
 * after every row a pager has passed, never behind one. Rows one event listed together share their listed position and
 * are ordered by credential id: the answer's key, (listedPosition, credentialId), is unique per row, and a page ends at
 * `limit` among them too (review 394: one listing of 10,006 rows came whole at limit=1). `after`: the last row of the
 * page before, or a listed position alone (no `credentialId`): the rows listed after every row listed at it.
 */
export const provisionedUnder = (
  db: Database.Database,
  subscriptionId: string,
  page: Pick<Page, 'limit'> = {},
  after?: { readonly position: bigint; readonly credentialId?: string | undefined },
): ProvisionedRow[] => {
  const limit = pageBounds(page)[1];
  if (limit < 1n) throw new RangeError(`page.limit must be at least 1, got ${limit}`);
  // A position alone is past its listing: before the next position's every row ('' sorts before any credential id).
  // None follows the greatest position there is. Without a cursor, before every row.
  if (after !== undefined && after.credentialId === undefined && after.position >= MAX_SQLITE_INTEGER) return [];
  const [position, credential] =
    after === undefined ? [-1n, ''] : after.credentialId === undefined ? [after.position + 1n, ''] : [after.position, after.credentialId];
  return (
    db
      .prepare(
        `SELECT * FROM compliance_provisioned WHERE subscription_id = @subscription AND (listed_position, credential_id) > (@position, @credential)
         ORDER BY listed_position, credential_id LIMIT @limit`,
      )
      .all({ subscription: subscriptionId, position, credential, limit }) as {
      position: bigint;
      enrolment_position: bigint;
      listed_position: bigint;
      credential_id: string;
      node_id: string;
      method: string;
      occurred_at: string;
    }[]
  ).map((r) => ({
    position: r.position,
    enrolmentPosition: r.enrolment_position,
    credentialId: r.credential_id,
    nodeId: r.node_id,
    method: r.method,
    occurredAt: r.occurred_at,
    listedPosition: r.listed_position,
  }));
};

/** Whether the read model holds a SubscriptionCreated of `subscriptionId` (review 155: `provisioned` of a typo). */
export const subscriptionCreated = (db: Database.Database, subscriptionId: string): boolean =>
  db.prepare('SELECT 1 FROM compliance_subscriptions WHERE subscription_id = ? AND not_after_ms IS NOT NULL').get(subscriptionId) !== undefined;

export interface ExpiringRow {
  /** Position of the CredentialIssued event that fixed notAfter. */
  readonly position: bigint;
  readonly credentialId: string;
  /**
   * Whose credential it is: an `ae` owner's App-ID (`appId`) and a `cse` owner's node (`nodeId`) when the credential
   * names them (review 155: the AE-ID alone does not say which App-ID's instance it is).
   */
  readonly owner: { readonly kind: string; readonly id: string; readonly appId?: string; readonly nodeId?: string };
  readonly notAfter: string;
  readonly status: 'issued' | 'provisioned';
}

/**
 * `n` exactly as the decimal it is written as (String: the shortest that reads back as `n`, so the days or fraction of
 * a millisecond a caller wrote), digits over a power of ten: `n` itself is a binary fraction near it, and an edge
 * computed from it may land a hair past a whole millisecond it should fall on.
 */
const decimalOf = (n: number): { readonly digits: bigint; readonly scale: bigint } => {
  const [, whole, fraction = '', exponent = '0'] = /^(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/.exec(String(n))!;
  const scale = BigInt(fraction.length) - BigInt(exponent);
  const digits = BigInt(whole! + fraction);
  return scale >= 0n ? { digits, scale } : { digits: digits * 10n ** -scale, scale: 0n };
};

const MS_PER_DAY = 86_400_000n;

/**
 * The exclusive top edge of the window (now, now + days) over whole milliseconds, as milliseconds past now's own
 * (x, for now = x + fraction): ceil(fraction + days * 86,400,000), the first whole millisecond not before the window's
 * end, so every whole millisecond inside it is below it (review 232: it was rounded to the nearest, and a notAfter just
 * inside an end at x + 1000.08 was left out).
 */
const topPastNow = (fraction: number, days: number): number => {
  const f = decimalOf(fraction);
  const d = decimalOf(days);
  const scale = f.scale > d.scale ? f.scale : d.scale;
  const end = f.digits * 10n ** (scale - f.scale) + d.digits * MS_PER_DAY * 10n ** (scale - d.scale);
  const unit = 10n ** scale;
  return Number((end + unit - 1n) / unit);
};

const fractionOf = (now: Date | QueryInstant): number => (now instanceof Date ? 0 : now.fraction);

/**
 * Whether the window (now, now + days) holds a whole millisecond, the instants a notAfter is at: the first after now
 * (x + 1) is below its top. One that holds none can only answer no rows, an all-clear of nothing (review 232:
 * `days=0`); the catalog refuses it as it refuses an empty [from, to).
 */
export const expiringWindowHoldsAMillisecond = (now: Date | QueryInstant, days: number): boolean => topPastNow(fractionOf(now), days) >= 2;

/**
 * Live (not revoked, not expired) credentials whose notAfter falls in (now, now + days), soonest first. A credential
 * is valid while `at < notAfter` (its machine): one whose notAfter is now has expired, whether or not the scheduler
 * has recorded it yet. Both edges are taken to every digit of `now` (`fraction`, ./instants.ts) and `days`: a
 * whole-millisecond notAfter is after x.0005 when it is after x, and before x.0005 + days when it is at most x + days
 * (review 155); the top edge is the first whole millisecond not before the end (`topPastNow`).
 */
export const expiringWithin = (
  db: Database.Database,
  now: Date | QueryInstant,
  days: number,
  page: Pick<Page, 'limit'> = {},
  /** The last row of the page before, by the order of the answer: the rows after it (review 142: ties on notAfter). */
  after?: { readonly notAfterMs: number; readonly credentialId: string },
): ExpiringRow[] => {
  if (!Number.isFinite(days) || days < 0) throw new RangeError(`days must be a number >= 0, got ${days}`);
  const from = now instanceof Date ? now.getTime() : now.date.getTime();
  return (
    db
      .prepare(
        `SELECT * FROM compliance_credentials WHERE status IN ('issued', 'provisioned') AND not_after_ms > ? AND not_after_ms < ?
           AND (not_after_ms, credential_id) > (?, ?)
         ORDER BY not_after_ms, credential_id LIMIT ?`,
      )
      // Without a cursor, one before every row: notAfter is past `from` and '' sorts before any credential id.
      .all(from, from + topPastNow(fractionOf(now), days), after?.notAfterMs ?? from, after?.credentialId ?? '', pageBounds(page)[1]) as {
      issued_position: bigint;
      credential_id: string;
      owner_kind: string;
      owner_id: string;
      owner_app_id: string | null;
      owner_node_id: string | null;
      not_after: string;
      status: 'issued' | 'provisioned';
    }[]
  ).map((r) => ({
    position: r.issued_position,
    credentialId: r.credential_id,
    owner: {
      kind: r.owner_kind,
      id: r.owner_id,
      ...(r.owner_app_id !== null ? { appId: r.owner_app_id } : {}),
      ...(r.owner_node_id !== null ? { nodeId: r.owner_node_id } : {}),
    },
    notAfter: r.not_after,
    status: r.status,
  }));
};
