import type Database from 'better-sqlite3';
import { prepared } from '../runtime/index.ts';
import { addDependent } from './dependents.ts';

/** The credential an App-ID is enrolled with now (seed 003 11.2.2): its end ends the App-ID's authorisation. */
export const bindApplication = (db: Database.Database, application: string, credential: string): void => {
  const moving = prepared(db, 'SELECT credential FROM cascade_application_credentials WHERE application = ?').get(application) as { credential: string } | undefined;
  // A move leaves nothing behind on the credential it left; an enrolment that ended stays listed on its credential.
  if (moving !== undefined && moving.credential !== credential) {
    prepared(db, "DELETE FROM cascade_dependents WHERE parent = ? AND relation = 'application-enrolled-with' AND child = ?").run(moving.credential, application);
  }
  prepared(db, 'INSERT INTO cascade_application_credentials (application, credential) VALUES (?, ?) ON CONFLICT (application) DO UPDATE SET credential = excluded.credential').run(application, credential);
  addDependent(db, credential, 'application-enrolled-with', application);
};

/**
 * The App-ID is enrolled with no credential any more: its enrolment ended (it stays listed under that credential,
 * with the end), or the App-ID was revoked (`revoked`: no longer listed under it either, since it ended on its own
 * and its credential with it, not the other way round; found in review).
 */
export const unbindApplication = (db: Database.Database, application: string, options: { readonly revoked?: boolean } = {}): void => {
  if (options.revoked === true) {
    const bound = prepared(db, 'SELECT credential FROM cascade_application_credentials WHERE application = ?').get(application) as { credential: string } | undefined;
    if (bound !== undefined) {
      prepared(db, "DELETE FROM cascade_dependents WHERE parent = ? AND relation = 'application-enrolled-with' AND child = ?").run(bound.credential, application);
    }
  }
  prepared(db, 'DELETE FROM cascade_application_credentials WHERE application = ?').run(application);
};

/** The credential (a stream id) the App-ID (a stream id) is enrolled with now; undefined when with none. */
export const credentialOfApplication = (db: Database.Database, application: string): string | undefined =>
  (prepared(db, 'SELECT credential FROM cascade_application_credentials WHERE application = ?').get(application) as { credential: string } | undefined)?.credential;

/** The App-IDs (stream ids) enrolled with this credential now. */
export const applicationsEnrolledWith = (db: Database.Database, credential: string): string[] =>
  (prepared(db, 'SELECT application FROM cascade_application_credentials WHERE credential = ? ORDER BY application').all(credential) as {
    application: string;
  }[]).map((r) => r.application);

/**
 * A node is a dependent of the one subscription it is enrolled under now (RS-17: it may enrol under another): the
 * one it leaves no longer lists it, nor would expire its enrolment when it ends. The CSE-ID it holds is kept too: an
 * association stored after the node moved to another one (decided before, at its claim) is revoked on arrival (RS-01).
 */
export const enrolNode = (db: Database.Database, subscription: string, node: string, cseId: string): void => {
  const before = prepared(db, 'SELECT subscription FROM cascade_node_enrolments WHERE node = ?').get(node) as { subscription: string } | undefined;
  if (before !== undefined && before.subscription !== subscription) {
    prepared(db, "DELETE FROM cascade_dependents WHERE parent = ? AND relation = 'node-of-subscription' AND child = ?").run(before.subscription, node);
    // Review 292: kept, so a credential its CA certified that is recorded after the move is revoked on arrival
    // (cascade_subscriptions_left, made by under-another-subscription.ts).
    prepared(db, 'INSERT OR IGNORE INTO cascade_subscriptions_left (node, subscription) VALUES (?, ?)').run(node, before.subscription);
  }
  prepared(
    db,
    `INSERT INTO cascade_node_enrolments (node, subscription, cse_id) VALUES (?, ?, ?)
     ON CONFLICT (node) DO UPDATE SET subscription = excluded.subscription, cse_id = excluded.cse_id`,
  ).run(node, subscription, cseId);
  addDependent(db, subscription, 'node-of-subscription', node);
};

/** The subscriptions (stream ids) the node (a stream id) was enrolled under and then enrolled under another. */
export const subscriptionsLeftBy = (db: Database.Database, node: string): string[] =>
  (prepared(db, 'SELECT subscription FROM cascade_subscriptions_left WHERE node = ? ORDER BY subscription').all(node) as { subscription: string }[]).map(
    (r) => r.subscription,
  );

/** The subscription (a stream id) of the node's (a stream id) latest enrolment; undefined before its first. */
export const subscriptionOfNode = (db: Database.Database, node: string): string | undefined =>
  (prepared(db, 'SELECT subscription FROM cascade_node_enrolments WHERE node = ?').get(node) as { subscription: string } | undefined)?.subscription;

/** The CSE-ID of the node's (a stream id) latest enrolment; undefined before its first. */
export const cseIdOfNode = (db: Database.Database, node: string): string | undefined =>
  (prepared(db, 'SELECT cse_id FROM cascade_node_enrolments WHERE node = ?').get(node) as { cse_id: string } | undefined)?.cse_id;
