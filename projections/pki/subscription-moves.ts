import type Database from 'better-sqlite3';
import type { Owner } from '../../domain/events/index.ts';
import { prepared } from '../runtime/index.ts';
import { certifiedSubscriptionOf } from './certified-subscription.ts';
import { nodeHolder, oweRevocation } from './owner-endings.ts';

/*
 * Review 397 (RS-17: a node may enrol under another subscription; review 287): the cascade revokes, as
 * affiliationChanged, a node's live certificates whose CA certifies the subscription it left, once the node is enrolled
 * under another (projections/cascade/under-another-subscription.ts), and one recorded after the move that such a CA
 * certified on its arrival (review 292). Until it appends those CredentialRevoked, OCSP answered `good` for them. So
 * the `pki` read model keeps, by the cascade's own rule (certifiedSubscriptionOf, as CredentialIssued recorded it), the
 * subscription each certificate's CA certifies, each node's current subscription and those it left, and makes those
 * certificates owed their revocation (owner-endings.ts `pki_owed`), settled as any other once it is recorded. A first
 * enrolment, or one under the subscription the node is under, leaves nothing; nor does a CA certifying no subscription
 * (`default`). As with the holders, a certificate follows the node its owner names (a node, a CSE-ID naming its node),
 * and the nodes an App-ID's instance it was issued to is established on (instance-holders.ts, review 402).
 *
 * Review 402 (RS-01, review 44): likewise a CSE-ID renumbering. The cascade revokes, as affiliationChanged, a node's
 * live credentials issued to a CSE-ID naming the node other than the one it is enrolled under now
 * (credentialsUnderAnotherCse), and one recorded when the node holds another (revoked on arrival). So each node's
 * CSE-ID is kept with its subscription, and each such credential's CSE-ID (pki_cse_credentials): those are owed too.
 */
export const PKI_SUBSCRIPTION_MOVES_TABLES = `CREATE TABLE IF NOT EXISTS pki_certified_subscriptions (
    credential_id TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS pki_node_enrolments (
    node_id TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL,
    -- The CSE-ID of its latest enrolment (review 402). Its default is for 9fe08a22 (review 397), which inserts none: a
    -- rollback to it goes on projecting (review 411), and upgrading again rebuilds (tables.ts).
    cse_id TEXT NOT NULL DEFAULT ''
  ) WITHOUT ROWID;
  -- Of each credential issued to a CSE-ID naming its node, that CSE-ID (review 402).
  CREATE TABLE IF NOT EXISTS pki_cse_credentials (
    credential_id TEXT PRIMARY KEY,
    cse_id TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS pki_subscriptions_left (
    node_id TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    PRIMARY KEY (node_id, subscription_id)
  ) WITHOUT ROWID`;

/** The tables above, emptied by a rebuild; the first is the marker of a read model that follows moves (tables.ts). */
export const PKI_SUBSCRIPTION_MOVES_TABLE_NAMES = ['pki_certified_subscriptions', 'pki_node_enrolments', 'pki_subscriptions_left', 'pki_cse_credentials'] as const;

type Certificate = { readonly caId: string; readonly serialNumber: string };

/** The node a credential's owner names, as the cascade's review 292 re-check reads it (a node, a CSE-ID naming its node). */
const nodeOfOwner = (owner: Owner | undefined): string | undefined =>
  owner?.kind === 'node' ? owner.id : owner?.kind === 'cse' ? owner.nodeId : undefined;

const enrolmentOfNode = (db: Database.Database, nodeId: string): { subscription_id: string; cse_id: string } | undefined =>
  prepared(db, 'SELECT subscription_id, cse_id FROM pki_node_enrolments WHERE node_id = ?').get(nodeId) as { subscription_id: string; cse_id: string } | undefined;

const subscriptionOfNode = (db: Database.Database, nodeId: string): string | undefined => enrolmentOfNode(db, nodeId)?.subscription_id;

/**
 * Credential `credentialId` (a certificate of ours, already recorded) issued to a CSE-ID naming its node: that CSE-ID
 * is kept. Returns it when owed its revocation at once, by the cascade's re-check at its arrival (review 44): the node
 * is enrolled under another CSE-ID now (decided before the renumbering, recorded after it).
 */
export const recordCseCredential = (db: Database.Database, credentialId: string, owner: Owner | undefined): Certificate | undefined => {
  if (owner?.kind !== 'cse' || owner.nodeId === undefined) return undefined;
  prepared(db, 'INSERT OR IGNORE INTO pki_cse_credentials (credential_id, cse_id) VALUES (?, ?)').run(credentialId, owner.id);
  const held = enrolmentOfNode(db, owner.nodeId)?.cse_id;
  return held !== undefined && held !== owner.id ? oweRevocation(db, credentialId) : undefined;
};

/**
 * Credential `credentialId` of `owner` was recorded with `certificate` (a certificate of ours, already recorded): the
 * subscription its CA certifies is kept. Returns it when owed its revocation at once: that CA certifies a subscription
 * the node was enrolled under and left, and not the one it is under now (it may have come back).
 */
export const recordCertifiedSubscription = (
  db: Database.Database,
  credentialId: string,
  owner: Owner | undefined,
  certificate: Parameters<typeof certifiedSubscriptionOf>[0],
): Certificate | undefined => {
  const certified = certifiedSubscriptionOf(certificate);
  if (certified === undefined) return undefined;
  prepared(db, 'INSERT OR IGNORE INTO pki_certified_subscriptions (credential_id, subscription_id) VALUES (?, ?)').run(credentialId, certified);
  const nodeId = nodeOfOwner(owner);
  if (nodeId === undefined || subscriptionOfNode(db, nodeId) === certified) return undefined;
  const left = prepared(db, 'SELECT 1 FROM pki_subscriptions_left WHERE node_id = ? AND subscription_id = ?').get(nodeId, certified) !== undefined;
  return left ? oweRevocation(db, credentialId) : undefined;
};

/**
 * Node `nodeId` was enrolled under `subscriptionId` with `cseId` (NodeEnrolled). When it was under another subscription
 * before, that one is left: the certificates of its credentials whose CA certifies it, not revoked yet, are owed their
 * revocation. So are those of its credentials issued to a CSE-ID naming it other than `cseId` (the cascade's
 * credentialsUnderAnotherCse: a renumbering, review 402). Those are returned (cached OCSP answers about them are stale).
 * A first enrolment under the CSE-ID its credentials name, or one under the same subscription and CSE-ID, returns none.
 */
export const recordNodeEnrolment = (db: Database.Database, nodeId: string, subscriptionId: string, cseId: string): Certificate[] => {
  const before = subscriptionOfNode(db, nodeId);
  prepared(
    db,
    `INSERT INTO pki_node_enrolments (node_id, subscription_id, cse_id) VALUES (?, ?, ?)
      ON CONFLICT(node_id) DO UPDATE SET subscription_id = excluded.subscription_id, cse_id = excluded.cse_id`,
  ).run(nodeId, subscriptionId, cseId);
  // Indexed: the node's holders (pki_holders' key), each looked up by its key.
  const underAnotherCse = prepared(
    db,
    `SELECT h.credential_id FROM pki_holders h JOIN pki_cse_credentials c ON c.credential_id = h.credential_id
      WHERE h.holder = ? AND c.cse_id <> ? ORDER BY h.credential_id`,
  ).all(nodeHolder(nodeId), cseId) as { credential_id: string }[];
  const owed = underAnotherCse.flatMap((r) => oweRevocation(db, r.credential_id) ?? []);
  if (before === undefined || before === subscriptionId) return owed;
  prepared(db, 'INSERT OR IGNORE INTO pki_subscriptions_left (node_id, subscription_id) VALUES (?, ?)').run(nodeId, before);
  const credentials = prepared(
    db,
    `SELECT h.credential_id FROM pki_holders h JOIN pki_certified_subscriptions c ON c.credential_id = h.credential_id
      WHERE h.holder = ? AND c.subscription_id = ? ORDER BY h.credential_id`,
  ).all(nodeHolder(nodeId), before) as { credential_id: string }[];
  // Under another CSE-ID and another subscription at once, a certificate is returned once.
  const seen = new Set(owed.map((c) => `${c.caId} ${c.serialNumber}`));
  return [...owed, ...credentials.flatMap((r) => oweRevocation(db, r.credential_id) ?? []).filter((c) => !seen.has(`${c.caId} ${c.serialNumber}`))];
};
