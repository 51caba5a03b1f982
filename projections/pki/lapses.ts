import type Database from 'better-sqlite3';
import { lateLapse } from '../revocation-instant/index.ts';
import { prepared } from '../runtime/index.ts';

/**
 * Where a revocation the cascade records because a node's enrolment lapsed with its subscription is dated (review
 * 191): the subscription's notAfter, from which the Registrar and the Enrolment Function refused the node
 * (run-admission.ts `servedAt`), however late the scheduler and the cascade recorded the ends. `pki_subscriptions`
 * keeps each subscription's notAfter (SubscriptionCreated; a subscription's validity never changes); `pki_lapses`
 * each NodeEnrolmentExpired recorded after that notAfter, by its event id: what the cascade's revocations name as
 * their causationId. An enrolment that ended in time has no row: its revocations are dated when recorded.
 */
export const PKI_LAPSES_TABLES = `CREATE TABLE IF NOT EXISTS pki_subscriptions (
    subscription_id TEXT PRIMARY KEY,
    not_after INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS pki_lapses (
    event_id TEXT PRIMARY KEY,
    lapsed_at INTEGER NOT NULL
  ) WITHOUT ROWID`;

export const recordSubscription = (db: Database.Database, subscriptionId: string, notAfter: number): void => {
  prepared(db, 'INSERT INTO pki_subscriptions (subscription_id, not_after) VALUES (?, ?) ON CONFLICT(subscription_id) DO NOTHING').run(subscriptionId, notAfter);
};

/**
 * The enrolment's end, recorded by event `eventId` at `at` under `subscriptionId`: kept when the subscription's notAfter
 * came first (a downtime, a lagging scheduler), whether it expired or was terminated after it.
 */
export const recordEnrolmentEnd = (db: Database.Database, eventId: string, subscriptionId: string, at: number): void => {
  const row = prepared(db, 'SELECT not_after FROM pki_subscriptions WHERE subscription_id = ?').get(subscriptionId) as { not_after: number | bigint } | undefined;
  const lapsedAt = lateLapse(row === undefined ? undefined : Number(row.not_after), at);
  if (lapsedAt === undefined) return;
  prepared(db, 'INSERT INTO pki_lapses (event_id, lapsed_at) VALUES (?, ?) ON CONFLICT(event_id) DO NOTHING').run(eventId, lapsedAt);
};

/** When the enrolment whose end event `eventId` is lapsed, epoch ms; undefined when that is no late-recorded lapse. */
export const lapseOf = (db: Database.Database, eventId: string): number | undefined => {
  const row = prepared(db, 'SELECT lapsed_at FROM pki_lapses WHERE event_id = ?').get(eventId) as { lapsed_at: number | bigint } | undefined;
  return row === undefined ? undefined : Number(row.lapsed_at);
};
