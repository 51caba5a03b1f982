import type Database from 'better-sqlite3';
import type { DecodedEvent } from '../../domain/stored.ts';
import { parseStreamId } from '../../domain/streams.ts';
import { prepared } from '../runtime/index.ts';
import type { BatchRows } from './batch-read.ts';
import type { Association, Credential, Enrolment, EnrolmentChange, ParentKind, Position } from './batch-rows.ts';
import { ENROLMENT_IN_FORCE } from './batch-statements.ts';
import { identifierKey } from './identifier-keys.ts';
import { inForceAt } from './subscriptions.ts';

/** `row` moves to `status` at `position` only if its status is older (forward only), and is then written. */
export const setStatus = <R extends Credential | Association>(row: R | undefined, changed: Set<R>, status: string, position: bigint): void => {
  if (row !== undefined && row.status_position < position) {
    row.status = status;
    row.status_position = position;
    changed.add(row);
  }
};

/**
 * What a batch's events change, in memory, as they are applied in order to the rows it read (batch-read.ts), for
 * batch-write.ts to write once: the rows moved on or added, and the namings, revocations and provisionings recorded.
 */
export const batchChanges = (db: Database.Database, { identifiers, pending, subscriptions }: BatchRows) => {
  // Only this batch's own: a provisioning or revocation stored before is kept by `INSERT OR IGNORE`.
  const provisionedHere = new Set<string>();
  const revokedHere = new Set<Position>();
  const changedEnrolments = new Set<string>();
  const changedIdentifiers = new Set<string>();
  /** The identifier names `nodeId` from `position` on, unless a later naming is already known (forward only). */
  const nameIdentifier = (kind: string, id: string, nodeId: string, position: bigint): void => {
    const key = identifierKey(kind, id);
    const row = identifiers.get(key);
    if (row !== undefined && row.position >= position) return;
    identifiers.set(key, { node_id: nodeId, position });
    changedIdentifiers.add(key);
  };
  const changedCredentials = new Set<Credential>();
  // Created by this batch: written by `INSERT OR IGNORE`, as a row stored before (not read, when nothing in the
  // batch looks at it) wins. Rows read and moved on are replaced.
  const created = new Set<Credential | Association>();
  const changedAssociations = new Set<Association>();
  const newRevocations: unknown[][] = [];
  const newProvisioned: unknown[][] = [];
  // Only ever added (`INSERT OR IGNORE`): a node's or App-ID's ending, an App-ID's enrolment's end, and where each
  // association was configured, which dangling-associations reads at query time (review 249).
  const newEndings: unknown[][] = [];
  const newConfigurations: unknown[][] = [];
  /** The parent `kind` `id` ended at `position` by an event of type `event`. */
  const parentEnded = (kind: ParentKind, id: string, position: bigint, event: string): void => {
    newEndings.push([kind, id, position, event]);
  };
  // This batch's changes of enrolment by node; a change stored at the same position wins (`INSERT OR IGNORE`).
  const changesHere = new Map<string, EnrolmentChange[]>();
  const newEnrolmentChanges: unknown[][] = [];
  /** `nodeId` is enrolled under `subscriptionId` from `position` on, or (null) enrolled under none. */
  const enrolmentChanged = (nodeId: string, position: bigint, subscriptionId: string | null): void => {
    const changes = changesHere.get(nodeId) ?? [];
    if (changes.some((c) => c.position === position)) return;
    changesHere.set(nodeId, [...changes, { position, subscription_id: subscriptionId }]);
    newEnrolmentChanges.push([nodeId, position, subscriptionId]);
  };
  /**
   * The enrolment `nodeId` held at `position`: its latest change before it, stored or this batch's (a late delivery
   * may have recorded one out of order). Read from the history only here: a held-back provisioning is rare, and which
   * node's history, at which position, is known only when the event naming its identifier is applied.
   */
  const enrolmentAt = (nodeId: string, position: Position): Enrolment | undefined => {
    const stored = prepared(db, ENROLMENT_IN_FORCE).get(nodeId, position) as EnrolmentChange | undefined;
    let latest = stored;
    for (const c of changesHere.get(nodeId) ?? []) if (c.position < position && (latest === undefined || c.position > latest.position)) latest = c;
    return latest?.subscription_id == null ? undefined : { subscription_id: latest.subscription_id, position: latest.position };
  };
  /**
   * The identifier (a key) is named for `nodeId` at `listedAt`: the provisionings waiting for it count under the
   * enrolment the node held at each one's own position (review 101: not the one it holds now, after a change of
   * subscription), and are listed now. A node enrolled under none then had nothing provisioned under a subscription,
   * nor one enrolled under a subscription no longer in force then (review 155).
   */
  const namedNow = (key: string, nodeId: string, listedAt: bigint): void => {
    for (const waiting of pending.take(key)) {
      if (provisionedHere.has(waiting.credential_id)) continue;
      const enrolment = enrolmentAt(nodeId, waiting.position);
      if (enrolment === undefined || !inForceAt(subscriptions.get(enrolment.subscription_id), waiting.position, Number(waiting.at))) continue;
      provisionedHere.add(waiting.credential_id);
      newProvisioned.push([waiting.credential_id, enrolment.subscription_id, nodeId, waiting.method, waiting.position, enrolment.position, waiting.occurred_at, listedAt]);
    }
  };

  /**
   * The revocation `e` records, which occurred `at` (epoch ms): when it was recorded, or earlier for a credential's
   * (revocation-dates.ts). `occurred_at` says `at`; `recorded_at` keeps when it was recorded, where that differs;
   * `recorded_ms` when it was recorded always, what `by=recorded` windows by (review 305).
   */
  const recordRevocation = (e: DecodedEvent, reason: string, at: number): void => {
    const { position, streamId } = e.record;
    if (revokedHere.has(position)) return;
    revokedHere.add(position);
    const ref = parseStreamId(streamId)!;
    const datedBack = at !== e.at;
    const occurredAt = datedBack ? new Date(at).toISOString() : e.metadata.occurredAt;
    newRevocations.push([position, streamId, ref.kind, ref.id, reason, at, occurredAt, e.metadata.actor.id, datedBack ? e.metadata.occurredAt : null, e.at]);
  };
  return {
    provisionedHere, changedEnrolments, changedIdentifiers, changedCredentials, created, changedAssociations, newRevocations, newProvisioned,
    newEnrolmentChanges, newEndings, newConfigurations, nameIdentifier, namedNow, enrolmentChanged, recordRevocation, parentEnded,
  };
};

export type BatchChanges = ReturnType<typeof batchChanges>;
