import type Database from 'better-sqlite3';
import { prepared } from '../runtime/index.ts';
import type { Position } from './batch-rows.ts';

/*
 * Whether a subscription was in force at a provisioning (review 155). The credential machine holds a provisioning to
 * a serving subscription only for a node's service credential; an AE-ID's credential, or a node's bootstrap one, may
 * be provisioned after the subscription ended and before the process manager records the enrolment's expiry. Such a
 * provisioning is not listed under it: it was not made while the subscription was in force. A subscription's end is
 * the earliest termination or expiry recorded, by position; its notAfter (SubscriptionCreated, first insert wins)
 * ends it at that instant whether or not an expiry was recorded yet. One the read model holds no event of (a broken
 * history) leaves a provisioning listed as before.
 */

export interface Subscription {
  not_after_ms: number | bigint | null;
  ended_position: Position | null;
}

/** Whether `row` was in force at a provisioning at `position`, at `at` (epoch ms): [created, notAfter) and not ended before it. */
export const inForceAt = (row: Subscription | undefined, position: Position, at: number): boolean =>
  row === undefined || ((row.ended_position === null || row.ended_position >= position) && (row.not_after_ms === null || at < Number(row.not_after_ms)));

const READ = 'SELECT not_after_ms, ended_position FROM compliance_subscriptions WHERE subscription_id = ?';
const WRITE = 'INSERT OR REPLACE INTO compliance_subscriptions (subscription_id, not_after_ms, ended_position) VALUES (?, ?, ?)';

/**
 * The subscriptions a batch looks at, each read once when first asked for (a batch touches few, and which ones a
 * held-back provisioning needs is known only when its node's history is read), moved on in memory, written by `flush`.
 */
export const subscriptionRows = (db: Database.Database) => {
  const rows = new Map<string, Subscription | undefined>();
  const changed = new Set<string>();
  const get = (id: string): Subscription | undefined => {
    if (!rows.has(id)) rows.set(id, prepared(db, READ).get(id) as Subscription | undefined);
    return rows.get(id);
  };
  const touched = (id: string): Subscription => {
    let row = get(id);
    if (row === undefined) rows.set(id, (row = { not_after_ms: null, ended_position: null }));
    changed.add(id);
    return row;
  };
  return {
    get,
    /** SubscriptionCreated: its notAfter, the first one recorded. */
    created(id: string, notAfter: string): void {
      const row = touched(id);
      if (row.not_after_ms === null) row.not_after_ms = Date.parse(notAfter);
    },
    /** SubscriptionTerminated or SubscriptionExpired at `position`: ended there, unless an earlier end is recorded. */
    ended(id: string, position: bigint): void {
      const row = touched(id);
      if (row.ended_position === null || position < row.ended_position) row.ended_position = position;
    },
    flush(): void {
      const write = prepared(db, WRITE);
      for (const id of changed) write.run(id, rows.get(id)!.not_after_ms, rows.get(id)!.ended_position);
    },
  };
};

export type SubscriptionRows = ReturnType<typeof subscriptionRows>;
