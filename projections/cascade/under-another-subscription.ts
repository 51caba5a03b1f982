import type Database from 'better-sqlite3';
import type { RevocationReason } from '../../domain/events/index.ts';
import { certifiedSubscriptionOf } from '../pki/certified-subscription.ts';
import { prepared } from '../runtime/index.ts';
import { idOf, revokeCredential, type Reaction } from './reaction.ts';
import { subscriptionOfNode } from './enrolments.ts';
import { CERTIFIED_BY_ITS_SUBSCRIPTIONS_CA, SUBSCRIPTION_OF_NODE, SUBSCRIPTIONS_LEFT_BY_NODE, type ReactionContext } from './reaction-context.ts';

/*
 * Review 287 (issue 13: a CA per M2M Service Subscription, its id the M2M-Sub-ID; RS-17: a node may enrol under
 * another subscription). A certificate of a subscription's CA says its node is that subscription's: the subscriber's
 * relying parties trust that CA, and its OCSP answers `good` while the credential is live. A node enrolled under
 * another subscription (whatever its CSE-ID) is no longer that subscriber's, so each of its live credentials whose
 * certificate the CA of the subscription it left issued is revoked as `affiliationChanged` (RFC 5280 5.3.1: the
 * subject's affiliation changed, nothing was compromised); their associations then end with them by the credential's
 * own rule. One certified by the shared CA `default`, by another CA, or with no certificate says nothing of the
 * subscription and stays. Which subscription a CA certifies is read from the log alone (certifiedSubscriptionOf: the
 * `issuingCaCertifies` CredentialIssued recorded, else its `issuingCa`; never the CAs this service loaded), so a
 * rebuild, a replay and every store decide alike. Review 355: a CA naming the subscription it certifies (`sub-a-ca`
 * of Sub-A) was compared by its id alone, and its certificates outlived the node's move.
 */

// The rule lives with the pki read model, which owes these revocations before the cascade records them (review 397).
export { certifiedSubscriptionOf };

export const setupIssuingCas = (db: Database.Database): void => {
  // Of each credential (a stream id), the subscription its certificate's CA certifies (certifiedSubscriptionOf; the
  // column kept its name from when a CA's id was always that subscription's).
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

/**
 * The M2M-Sub-ID whose nodes the Credence CA that issued the credential's (a stream id) certificate certifies, as
 * CredentialIssued recorded it (certifiedSubscriptionOf).
 */
export const addIssuingCa = (db: Database.Database, credential: string, certifiedSubscription: string): void => {
  prepared(db, 'INSERT OR IGNORE INTO cascade_issuing_cas (credential, issuing_ca) VALUES (?, ?)').run(credential, certifiedSubscription);
};

/**
 * The node's (a stream id) credentials (stream ids) whose certificate the CA of the subscription of its latest
 * enrolment issued; none before its first, nor of the shared CA `default` (which certifies no subscription of its
 * own: addIssuingCa never records it), whatever a subscription is named.
 */
export const certifiedByItsSubscriptionsCa = (db: Database.Database, node: string): string[] => {
  const subscription = subscriptionOfNode(db, node);
  if (subscription === undefined) return [];
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
 * revoked on arrival, for the same reason. Judged as of the event: a CA certifying (certifiedSubscriptionOf) a
 * subscription the node was enrolled under and left (SUBSCRIPTIONS_LEFT_BY_NODE), and not the one it is enrolled
 * under then (it may have come back). Any other CA (`default`, one certifying no subscription the node was under, one
 * of a subscription the node never left) says nothing of a move, and the credential stays.
 */
export const certifiedByASubscriptionLeft = (
  ctx: ReactionContext,
  node: string,
  certificate: Parameters<typeof certifiedSubscriptionOf>[0],
): RevocationReason | undefined => {
  const certified = certifiedSubscriptionOf(certificate);
  if (certified === undefined) return undefined;
  const [current] = ctx.dependents(node, SUBSCRIPTION_OF_NODE);
  if (current !== undefined && idOf(current) === certified) return undefined;
  return ctx.dependents(node, SUBSCRIPTIONS_LEFT_BY_NODE).some((left) => idOf(left) === certified) ? SUBSCRIPTION_LEFT : undefined;
};
