import type Database from 'better-sqlite3';
import type { DecodedEvent } from '../../domain/stored.ts';
import { parseStreamId } from '../../domain/streams.ts';
import { prepared } from '../runtime/index.ts';

export const COMPLIANCE_EVENT_TYPES = [
  'NodeEnrolled',
  'NodeEnrolmentExpired',
  'NodeRevoked',
  'CredentialIssued',
  'CredentialProvisioned',
  'CredentialExpired',
  'CredentialRevoked',
  'ApplicationRevoked',
  'AssociationConfigured',
  'AssociationEstablished',
  'AssociationExpired',
  'AssociationRevoked',
] as const;

const setStatus = (db: Database.Database, table: 'credentials' | 'associations', id: string, status: string, position: bigint): void => {
  const key = table === 'credentials' ? 'credential_id' : 'association_id';
  // Guarded by position: a status only moves forward, so an event delivered twice, or late, changes nothing.
  prepared(db, `UPDATE compliance_${table} SET status = ?, status_position = ? WHERE ${key} = ? AND status_position < ?`).run(
    status,
    position,
    id,
    position,
  );
};

const recordRevocation = (db: Database.Database, e: DecodedEvent, reason: string): void => {
  const ref = parseStreamId(e.record.streamId)!;
  prepared(db,
    `INSERT OR IGNORE INTO compliance_revocations (position, stream_id, kind, entity_id, reason, at, occurred_at, actor_id)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(e.record.position, e.record.streamId, ref.kind, ref.id, reason, e.at, e.metadata.occurredAt, e.metadata.actor.id);
};

/**
 * Applies one event to the compliance tables. Each write is keyed by entity or position, so applying an event
 * twice leaves the tables as applying it once did; rows are written in global order, so "at the time of the
 * event" is exactly what the tables hold when the event is applied.
 */
export const applyCompliance = (db: Database.Database, e: DecodedEvent): void => {
  const position = e.record.position;
  const { event } = e;
  switch (event.type) {
    case 'NodeEnrolled':
      // A change of subscription (RS-17) replaces the previous enrolment.
      prepared(db,
        `INSERT INTO compliance_enrolments (node_id, subscription_id, position) VALUES (?, ?, ?)
         ON CONFLICT(node_id) DO UPDATE SET subscription_id = excluded.subscription_id, position = excluded.position
         WHERE excluded.position > compliance_enrolments.position`,
      ).run(event.data.nodeId, event.data.subscriptionId, position);
      return;
    case 'NodeEnrolmentExpired':
      prepared(db, 'DELETE FROM compliance_enrolments WHERE node_id = ? AND position < ?').run(event.data.nodeId, position);
      return;
    case 'NodeRevoked':
    case 'CredentialRevoked':
    case 'ApplicationRevoked':
      recordRevocation(db, e, event.data.reason);
      if (event.type === 'CredentialRevoked') setStatus(db, 'credentials', event.data.credentialId, 'revoked', position);
      return;
    case 'AssociationRevoked':
      recordRevocation(db, e, event.data.reason);
      setStatus(db, 'associations', event.data.associationId, 'revoked', position);
      return;
    case 'CredentialIssued': {
      const { credentialId, owner, notAfter } = event.data;
      prepared(db,
        `INSERT OR IGNORE INTO compliance_credentials (credential_id, owner_kind, owner_id, not_after, not_after_ms, status, issued_position, status_position)
         VALUES (?, ?, ?, ?, ?, 'issued', ?, ?)`,
      ).run(credentialId, owner.kind, owner.id, notAfter, Date.parse(notAfter), position, position);
      return;
    }
    case 'CredentialProvisioned': {
      const { credentialId, method } = event.data;
      setStatus(db, 'credentials', credentialId, 'provisioned', position);
      // The subscription the owner node was enrolled under at this very event (global order).
      prepared(db,
        `INSERT OR IGNORE INTO compliance_provisioned (credential_id, subscription_id, node_id, method, position, enrolment_position, occurred_at)
         SELECT c.credential_id, n.subscription_id, n.node_id, ?, ?, n.position, ?
         FROM compliance_credentials c JOIN compliance_enrolments n ON c.owner_kind = 'node' AND n.node_id = c.owner_id
         WHERE c.credential_id = ?`,
      ).run(method, position, e.metadata.occurredAt, credentialId);
      return;
    }
    case 'CredentialExpired':
      setStatus(db, 'credentials', event.data.credentialId, 'expired', position);
      return;
    case 'AssociationConfigured': {
      const { associationId, credentialId, nodeId } = event.data;
      prepared(db,
        `INSERT OR IGNORE INTO compliance_associations (association_id, credential_id, node_id, status, status_position)
         VALUES (?, ?, ?, 'configured', ?)`,
      ).run(associationId, credentialId, nodeId, position);
      return;
    }
    case 'AssociationEstablished':
      setStatus(db, 'associations', event.data.associationId, 'established', position);
      return;
    case 'AssociationExpired':
      setStatus(db, 'associations', event.data.associationId, 'expired', position);
      return;
    default:
      return;
  }
};
