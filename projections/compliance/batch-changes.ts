import type { DecodedEvent } from '../../domain/stored.ts';
import { parseStreamId } from '../../domain/streams.ts';
import type { BatchRows } from './batch-read.ts';
import type { Association, Credential, Position } from './batch-rows.ts';
import { identifierKey } from './identifier-keys.ts';

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
export const batchChanges = ({ identifiers, enrolments, pending }: BatchRows) => {
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
  /** The identifier (a key) is named for `nodeId`: the provisionings waiting for it count under its enrolment now. */
  const namedNow = (key: string, nodeId: string): void => {
    for (const waiting of pending.take(key)) {
      const enrolment = enrolments.get(nodeId);
      if (enrolment === undefined || provisionedHere.has(waiting.credential_id)) continue;
      provisionedHere.add(waiting.credential_id);
      newProvisioned.push([waiting.credential_id, enrolment.subscription_id, nodeId, waiting.method, waiting.position, enrolment.position, waiting.occurred_at]);
    }
  };

  const recordRevocation = (e: DecodedEvent, reason: string): void => {
    const { position, streamId } = e.record;
    if (revokedHere.has(position)) return;
    revokedHere.add(position);
    const ref = parseStreamId(streamId)!;
    newRevocations.push([position, streamId, ref.kind, ref.id, reason, e.at, e.metadata.occurredAt, e.metadata.actor.id]);
  };
  return {
    provisionedHere, changedEnrolments, changedIdentifiers, changedCredentials, created, changedAssociations, newRevocations, newProvisioned,
    nameIdentifier, namedNow, recordRevocation,
  };
};

export type BatchChanges = ReturnType<typeof batchChanges>;
