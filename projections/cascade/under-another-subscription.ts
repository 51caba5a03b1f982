import type Database from 'better-sqlite3';
import type { RevocationReason } from '../../domain/events/index.ts';
import { DEFAULT_CA_ID } from '../../domain/x509/issuance/index.ts';
import { prepared } from '../runtime/index.ts';
import { idOf, revokeCredential, type Reaction } from './reaction.ts';
import { subscriptionOfNode } from './enrolments.ts';
import { CERTIFIED_BY_ITS_SUBSCRIPTIONS_CA, SUBSCRIPTION_OF_NODE, SUBSCRIPTIONS_LEFT_BY_NODE, type ReactionContext } from './reaction-context.ts';

/*
 * Review 287 (issue 13: a CA per M2M Service Subscription, its id the M2M-Sub-ID; RS-17: a node may enrol under
 * another subscription). A certificate of a subscription's CA says its node is that subscription's: the subscriber's
 * relying parties trust that CA, and its OCSP answers `good` while the credential is live. A node enrolled under
 * another subscription (whatever its CSE-ID) is no longer that subscriber's, so each of its live credentials whose
 * certificate the CA of the subscription it left issued (the `issuingCa` CredentialIssued recorded) is revoked as
 * `affiliationChanged` (RFC 5280 5.3.1: the subject's affiliation changed, nothing was compromised); their
 * associations then end with them by the credential's own rule. One certified by the shared CA `default`, by another
 * CA, or with no certificate says nothing of the subscription and stays. Read from the log alone (the issuing CA as
 * recorded, never the CAs this service loaded), so a rebuild, a replay and every store decide alike.
 */

export const setupIssuingCas = (db: Database.Database): void => {
  db.exec(`CREATE TABLE IF NOT EXISTS cascade_issuing_cas (
    credential TEXT PRIMARY KEY,
    issuing_ca TEXT NOT NULL
  ) WITHOUT ROWID`);
  // Review 292: of each node (a stream id), the subscriptions (stream ids) it was enrolled under and left for another
  // (enrolNode writes them), whose CAs' certificates recorded after the move are revoked on arrival.
  db.exec(`CREATE TABLE IF NOT EXISTS cascade_subscriptions_left (
    node TEXT NOT NULL,
    subscription TEXT NOT NULL,
    PRIMARY KEY (node, subscription)
  ) WITHOUT ROWID`);
};

/** The tables `setupIssuingCas` makes. */
export const ISSUING_CAS_TABLES = ['cascade_issuing_cas', 'cascade_subscriptions_left'] as const;

export const resetIssuingCas = (db: Database.Database): void => {
  db.exec(ISSUING_CAS_TABLES.map((table) => `DELETE FROM ${table}`).join('; '));
};

/** The Credence CA (its id) that issued the credential's (a stream id) certificate, as CredentialIssued recorded it. */
export const addIssuingCa = (db: Database.Database, credential: string, issuingCa: string): void => {
  prepared(db, 'INSERT OR IGNORE INTO cascade_issuing_cas (credential, issuing_ca) VALUES (?, ?)').run(credential, issuingCa);
};

/**
 * The node's (a stream id) credentials (stream ids) whose certificate the CA of the subscription of its latest
 * enrolment issued; none before its first, nor of the shared CA `default`, whatever a subscription is named.
 */
export const certifiedByItsSubscriptionsCa = (db: Database.Database, node: string): string[] => {
  const subscription = subscriptionOfNode(db, node);
  if (subscription === undefined || idOf(subscription) === DEFAULT_CA_ID) return [];
  return (prepared(
    db,
    `SELECT d.child FROM cascade_dependents d JOIN cascade_issuing_cas c ON c.credential = d.child
     WHERE d.parent = ? AND d.relation = 'credential-of-node' AND c.issuing_ca = ? ORDER BY d.child`,
  ).all(node, idOf(subscription)) as { child: string }[]).map((r) => r.child);
};

/** Why a credential certified by the CA of a subscription its node left is revoked. */
export const SUBSCRIPTION_LEFT: RevocationReason = 'affiliationChanged';

/**
 * A node (`node`, its stream id) enrolled under `subscriptionId`: when it was enrolled under another one before, its
 * live credentials certified by that one's CA are revoked. Ended ones stay as they ended.
 */
export const credentialsOfTheSubscriptionLeft = async (ctx: ReactionContext, node: string, subscriptionId: string): Promise<Reaction[]> => {
  const [left] = ctx.dependents(node, SUBSCRIPTION_OF_NODE);
  if (left === undefined || idOf(left) === subscriptionId) return [];
  const out: Reaction[] = [];
  for (const s of ctx.dependents(node, CERTIFIED_BY_ITS_SUBSCRIPTIONS_CA)) {
    const credentialId = idOf(s);
    if ((await ctx.ended('credential', credentialId)) !== undefined) continue;
    out.push(revokeCredential(credentialId, SUBSCRIPTION_LEFT));
  }
  return out;
};

/**
 * Review 292: a credential whose certificate the CA of a subscription its node (`node`, its stream id) has left
 * certified, recorded after the move. Remote provisioning picks the CA at its auth step and records the credential
 * after the receipt, so a move in between (up to the session's 120 s) was never seen by the move's reaction: it is
 * revoked on arrival, for the same reason. Judged as of the event: an `issuingCa` that is the id of a subscription
 * the node was enrolled under and left (SUBSCRIPTIONS_LEFT_BY_NODE), and not of the one it is enrolled under then
 * (it may have come back). Any other CA (`default`, one named for no subscription, one of a subscription the node
 * never left) says nothing of a move, and the credential stays.
 */
export const certifiedByASubscriptionLeft = (ctx: ReactionContext, node: string, issuingCa: string | undefined): RevocationReason | undefined => {
  if (issuingCa === undefined || issuingCa === DEFAULT_CA_ID) return undefined;
  const [current] = ctx.dependents(node, SUBSCRIPTION_OF_NODE);
  if (current !== undefined && idOf(current) === issuingCa) return undefined;
  return ctx.dependents(node, SUBSCRIPTIONS_LEFT_BY_NODE).some((left) => idOf(left) === issuingCa) ? SUBSCRIPTION_LEFT : undefined;
};
