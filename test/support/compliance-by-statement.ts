import type Database from 'better-sqlite3';
import type { DecodedEvent } from '../../domain/stored.ts';
import { parseStreamId } from '../../domain/streams.ts';

/*
 * An independent statement of the compliance read model's rules, as SQL, one event at a time: the rules the
 * projection applied live before `applyComplianceMany` (projections/compliance/batch.ts) became their only
 * definition. It is kept here, outside the product, as the reference the differential test compares the projection
 * with (test/compliance-batched-equal-event-by-event.test.ts): two ways of writing the same rules, one in SQL keyed
 * writes, one in memory, so a slip in either shows as a difference.
 *
 * The rules: first insert wins; a status moves only forward by position (a late or repeated delivery changes
 * nothing); an enrolment is replaced by a later one (a change of subscription, RS-17) and removed by a later
 * expiry; a provisioning records the enrolment its node holds at that very event, in global order; a revocation is
 * recorded once, by position. A CSE-ID or AE-ID is the node's its latest naming (an enrolment, an association's
 * Registree) says, by position; a credential issued to one is provisioned under that node's enrolment. One issued to
 * a CSE-ID that names its node is that node's; one issued to an AE-ID that names its App-ID is the node's that the
 * latest association of that App-ID's instance under the AE-ID established names (`app-ae`, keyed `["appId","aeId"]`;
 * named at establishment, never at configuration: review 49). One
 * provisioned before any event named its identifier waits (compliance_pending_provisionings) for the first event that
 * names it, and is recorded then, listed at that event, with the provisioning's position, under the enrolment that node
 * held at the provisioning (the latest change of its enrolment before it, compliance_enrolment_history: review 101);
 * its credential's end (revoked, expired) drops it (review 48). Every other provisioned row is listed at itself. A
 * provisioning is recorded under a subscription only while it is in force: no termination or expiry of it recorded
 * before the provisioning, and the provisioning's instant before its notAfter (review 155; one the tables hold nothing
 * of counts as in force). A credential's revocation is dated when it occurred (review 197), as the pki read model dates
 * it: a revocation as superseded no later than the end of the overlap of the credential's rotation under way
 * (compliance_rotations: the latest started by position, until it is abandoned or the credential revoked), and the
 * cascade's (its actor, revokeCredential) no later than the subscription's notAfter when the enrolment end it names as
 * its causationId was recorded after that notAfter (compliance_lapses); `recorded_at` keeps the recording where later,
 * `recorded_ms` the recording always (review 305).
 * A node's ending (revoked, enrolment expired), an App-ID's revocation and an App-ID's enrolment's end are recorded
 * once each by kind, id and position, the first event there kept (compliance_endings), and each association's first
 * configuration with its position (compliance_association_configurations): dangling-associations reads them (review 249).
 */

/** The parent `kind` `id` ended at `e` (compliance_endings): the first event recorded at a position is kept. */
const parentEnded = (db: Database.Database, kind: string, id: string, e: DecodedEvent): void => {
  db.prepare('INSERT OR IGNORE INTO compliance_endings (kind, id, position, event) VALUES (?, ?, ?, ?)').run(kind, id, e.record.position, e.event.type);
};

/** The subscription `s` (a LEFT JOIN, NULL when unknown) in force at the provisioning `position`, `at`. */
const IN_FORCE = (s: string, position: string, at: string) =>
  `(${s}.ended_position IS NULL OR ${s}.ended_position >= ${position}) AND (${s}.not_after_ms IS NULL OR ${at} < ${s}.not_after_ms)`;

/**
 * The provisionings waiting for the identifier are recorded, listed at `listedAt`, under the enrolment `nodeId` held
 * at each one's position, and wait no more.
 */
const namedNow = (db: Database.Database, kind: string, id: string, nodeId: string, listedAt: bigint): void => {
  db.prepare(
    `INSERT OR IGNORE INTO compliance_provisioned (credential_id, subscription_id, node_id, method, position, enrolment_position, occurred_at, listed_position)
     SELECT p.credential_id, h.subscription_id, h.node_id, p.method, p.position, h.position, p.occurred_at, ?
     FROM compliance_pending_provisionings p JOIN compliance_enrolment_history h ON h.node_id = ?
       AND h.position = (SELECT MAX(position) FROM compliance_enrolment_history WHERE node_id = h.node_id AND position < p.position)
     LEFT JOIN compliance_subscriptions s ON s.subscription_id = h.subscription_id
     WHERE p.kind = ? AND p.id = ? AND h.subscription_id IS NOT NULL AND ${IN_FORCE('s', 'p.position', 'p.at')}`,
  ).run(listedAt, nodeId, kind, id);
  db.prepare('DELETE FROM compliance_pending_provisionings WHERE kind = ? AND id = ?').run(kind, id);
};

const enrolmentChanged = (db: Database.Database, nodeId: string, position: bigint, subscriptionId: string | null): void => {
  db.prepare('INSERT OR IGNORE INTO compliance_enrolment_history (node_id, position, subscription_id) VALUES (?, ?, ?)').run(nodeId, position, subscriptionId);
};

const endPending = (db: Database.Database, credentialId: string): void => {
  db.prepare('DELETE FROM compliance_pending_provisionings WHERE credential_id = ?').run(credentialId);
};

const nameIdentifier = (db: Database.Database, kind: string, id: string, nodeId: string, position: bigint): void => {
  db.prepare(
    `INSERT INTO compliance_identifiers (kind, id, node_id, position) VALUES (?, ?, ?, ?)
     ON CONFLICT(id, kind) DO UPDATE SET node_id = excluded.node_id, position = excluded.position
     WHERE excluded.position > compliance_identifiers.position`,
  ).run(kind, id, nodeId, position);
};

const setStatus = (db: Database.Database, table: 'credentials' | 'associations', id: string, status: string, position: bigint): void => {
  const key = table === 'credentials' ? 'credential_id' : 'association_id';
  db.prepare(`UPDATE compliance_${table} SET status = ?, status_position = ? WHERE ${key} = ? AND status_position < ?`).run(status, position, id, position);
};

/** The cascade's own revocation of a credential: the one a late lapse it names as its cause dates back. */
const byTheCascade = (e: DecodedEvent): boolean =>
  e.metadata.actor.id === 'system:process-manager' && e.metadata.actor.role === 'system' && e.metadata.commandType === 'revokeCredential';

/** The revocation, dated `at` (epoch ms), or for a credential's the earliest of that, its overlap's end and its lapse. */
const recordRevocation = (db: Database.Database, e: DecodedEvent, reason: string, credentialId?: string): void => {
  const ref = parseStreamId(e.record.streamId)!;
  db.prepare(
    `INSERT OR IGNORE INTO compliance_revocations (position, stream_id, kind, entity_id, reason, at, occurred_at, actor_id, recorded_at, recorded_ms)
     SELECT ?, ?, ?, ?, ?, d.at,
       CASE WHEN d.at = @at THEN @occurredAt ELSE strftime('%Y-%m-%dT%H:%M:%S', d.at / 1000, 'unixepoch') || printf('.%03dZ', d.at % 1000) END,
       ?, CASE WHEN d.at = @at THEN NULL ELSE @occurredAt END, @at
     FROM (SELECT MIN(@at,
       COALESCE((SELECT overlap_ends_at FROM compliance_rotations WHERE credential_id = @credential AND @reason = 'superseded'), @at),
       COALESCE((SELECT lapsed_at FROM compliance_lapses WHERE event_id = @cause AND @cascade), @at)) AS at) d`,
  ).run(e.record.position, e.record.streamId, ref.kind, ref.id, reason, e.metadata.actor.id, {
    at: e.at, occurredAt: e.metadata.occurredAt, credential: credentialId ?? null, reason, cause: e.metadata.causationId ?? null, cascade: credentialId !== undefined && byTheCascade(e) ? 1 : 0,
  });
  if (credentialId !== undefined) db.prepare('DELETE FROM compliance_rotations WHERE credential_id = ? AND position < ?').run(credentialId, e.record.position);
};

/** Applies one event to the compliance tables (created by `complianceProjection().setup`), statement by statement. */
export const applyComplianceByStatement = (db: Database.Database, e: DecodedEvent): void => {
  const position = e.record.position;
  const { event } = e;
  switch (event.type) {
    case 'NodeEnrolled': {
      const { changes } = db
        .prepare(
          `INSERT INTO compliance_enrolments (node_id, subscription_id, position) VALUES (?, ?, ?)
           ON CONFLICT(node_id) DO UPDATE SET subscription_id = excluded.subscription_id, position = excluded.position
           WHERE excluded.position > compliance_enrolments.position`,
        )
        .run(event.data.nodeId, event.data.subscriptionId, position);
      if (changes > 0) enrolmentChanged(db, event.data.nodeId, position, event.data.subscriptionId);
      nameIdentifier(db, 'cse', event.data.cseId, event.data.nodeId, position);
      namedNow(db, 'cse', event.data.cseId, event.data.nodeId, position);
      return;
    }
    case 'NodeEnrolmentExpired':
    case 'NodeRevoked': {
      const { changes } = db.prepare('DELETE FROM compliance_enrolments WHERE node_id = ? AND position < ?').run(event.data.nodeId, position);
      if (changes > 0) enrolmentChanged(db, event.data.nodeId, position, null);
      parentEnded(db, 'node', event.data.nodeId, e);
      if (event.type === 'NodeRevoked') recordRevocation(db, e, event.data.reason);
      else {
        db.prepare('INSERT OR IGNORE INTO compliance_lapses (event_id, lapsed_at) SELECT ?, not_after_ms FROM compliance_subscriptions WHERE subscription_id = ? AND not_after_ms < ?').run(
          e.record.id,
          event.data.subscriptionId,
          e.at,
        );
      }
      return;
    }
    case 'CredentialRotationStarted':
      db.prepare(
        `INSERT INTO compliance_rotations (credential_id, overlap_ends_at, position) VALUES (?, ?, ?)
         ON CONFLICT(credential_id) DO UPDATE SET overlap_ends_at = excluded.overlap_ends_at, position = excluded.position WHERE excluded.position > compliance_rotations.position`,
      ).run(event.data.credentialId, Date.parse(event.data.overlapEndsAt), position);
      return;
    case 'CredentialRotationAbandoned':
      db.prepare('DELETE FROM compliance_rotations WHERE credential_id = ? AND position < ?').run(event.data.credentialId, position);
      return;
    case 'CredentialRevoked':
    case 'ApplicationRevoked':
      recordRevocation(db, e, event.data.reason, event.type === 'CredentialRevoked' ? event.data.credentialId : undefined);
      if (event.type === 'CredentialRevoked') {
        // A raise of the reason (revoked already) leaves the credential ended at its first revocation (review 305).
        if (db.prepare("SELECT 1 FROM compliance_credentials WHERE credential_id = ? AND status = 'revoked'").get(event.data.credentialId) === undefined) {
          setStatus(db, 'credentials', event.data.credentialId, 'revoked', position);
        }
        endPending(db, event.data.credentialId);
      } else parentEnded(db, 'application', event.data.appId, e);
      return;
    case 'ApplicationEnrolmentEnded':
      parentEnded(db, 'application-enrolment', event.data.appId, e);
      return;
    case 'AssociationRevoked':
      recordRevocation(db, e, event.data.reason);
      setStatus(db, 'associations', event.data.associationId, 'revoked', position);
      return;
    case 'CredentialIssued': {
      const { credentialId, owner, notAfter } = event.data;
      db.prepare(
        `INSERT OR IGNORE INTO compliance_credentials (credential_id, owner_kind, owner_id, owner_node_id, owner_app_id, not_after, not_after_ms, status, issued_position, status_position)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'issued', ?, ?)`,
      ).run(credentialId, owner.kind, owner.id, owner.kind === 'cse' ? (owner.nodeId ?? null) : null, owner.kind === 'ae' ? (owner.appId ?? null) : null, notAfter, Date.parse(notAfter), position, position);
      return;
    }
    case 'CredentialProvisioned': {
      const { credentialId, method } = event.data;
      setStatus(db, 'credentials', credentialId, 'provisioned', position);
      db.prepare(
        `INSERT OR IGNORE INTO compliance_provisioned (credential_id, subscription_id, node_id, method, position, enrolment_position, occurred_at, listed_position)
         SELECT c.credential_id, n.subscription_id, n.node_id, ?, ?, n.position, ?, ?
         FROM compliance_credentials c
         LEFT JOIN compliance_identifiers i ON CASE WHEN c.owner_kind = 'ae' AND c.owner_app_id IS NOT NULL
           THEN i.kind = 'app-ae' AND i.id = json_array(c.owner_app_id, c.owner_id)
           ELSE i.kind = c.owner_kind AND i.id = c.owner_id END
         JOIN compliance_enrolments n ON n.node_id = CASE WHEN c.owner_kind = 'node' THEN c.owner_id ELSE COALESCE(c.owner_node_id, i.node_id) END
         LEFT JOIN compliance_subscriptions s ON s.subscription_id = n.subscription_id
         WHERE c.credential_id = ? AND ${IN_FORCE('s', '?', '?')}`,
      ).run(method, position, e.metadata.occurredAt, position, credentialId, position, e.at);
      db.prepare(
        `INSERT OR IGNORE INTO compliance_pending_provisionings (credential_id, kind, id, method, position, occurred_at, at)
         SELECT k.credential_id, k.kind, k.id, ?, ?, ?, ?
         FROM (SELECT credential_id,
                 CASE WHEN owner_kind = 'ae' AND owner_app_id IS NOT NULL THEN 'app-ae' ELSE owner_kind END AS kind,
                 CASE WHEN owner_kind = 'ae' AND owner_app_id IS NOT NULL THEN json_array(owner_app_id, owner_id) ELSE owner_id END AS id
               FROM compliance_credentials WHERE credential_id = ? AND owner_kind IN ('cse', 'ae') AND owner_node_id IS NULL) k
         WHERE NOT EXISTS (SELECT 1 FROM compliance_identifiers i WHERE i.kind = k.kind AND i.id = k.id)`,
      ).run(method, position, e.metadata.occurredAt, e.at, credentialId);
      return;
    }
    case 'CredentialExpired':
      setStatus(db, 'credentials', event.data.credentialId, 'expired', position);
      endPending(db, event.data.credentialId);
      return;
    case 'AssociationConfigured': {
      const { associationId, credentialId, nodeId, registree } = event.data;
      nameIdentifier(db, registree.kind, registree.id, nodeId, position);
      namedNow(db, registree.kind, registree.id, nodeId, position);
      db.prepare(
        `INSERT OR IGNORE INTO compliance_associations (association_id, credential_id, node_id, status, status_position, app_id, ae_id)
         VALUES (?, ?, ?, 'configured', ?, ?, ?)`,
      ).run(associationId, credentialId, nodeId, position, registree.kind === 'ae' ? registree.appId : null, registree.kind === 'ae' ? registree.id : null);
      db.prepare('INSERT OR IGNORE INTO compliance_association_configurations (association_id, position) VALUES (?, ?)').run(associationId, position);
      return;
    }
    case 'AssociationEstablished': {
      setStatus(db, 'associations', event.data.associationId, 'established', position);
      const row = db.prepare('SELECT node_id, app_id, ae_id FROM compliance_associations WHERE association_id = ?').get(event.data.associationId) as
        | { node_id: string; app_id: string | null; ae_id: string | null }
        | undefined;
      if (row?.app_id == null || row.ae_id === null) return;
      nameIdentifier(db, 'app-ae', JSON.stringify([row.app_id, row.ae_id]), row.node_id, position);
      namedNow(db, 'app-ae', JSON.stringify([row.app_id, row.ae_id]), row.node_id, position);
      return;
    }
    case 'AssociationExpired':
      setStatus(db, 'associations', event.data.associationId, 'expired', position);
      return;
    case 'SubscriptionCreated':
      db.prepare(
        `INSERT INTO compliance_subscriptions (subscription_id, not_after_ms, ended_position) VALUES (?, ?, NULL)
         ON CONFLICT(subscription_id) DO UPDATE SET not_after_ms = COALESCE(not_after_ms, excluded.not_after_ms)`,
      ).run(event.data.subscriptionId, Date.parse(event.data.notAfter));
      return;
    case 'SubscriptionTerminated':
    case 'SubscriptionExpired':
      db.prepare(
        `INSERT INTO compliance_subscriptions (subscription_id, not_after_ms, ended_position) VALUES (?, NULL, ?)
         ON CONFLICT(subscription_id) DO UPDATE SET ended_position = MIN(COALESCE(ended_position, excluded.ended_position), excluded.ended_position)`,
      ).run(event.data.subscriptionId, position);
      return;
    default:
      return;
  }
};
