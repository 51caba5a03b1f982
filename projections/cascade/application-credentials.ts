import type Database from 'better-sqlite3';
import { prepared } from '../runtime/index.ts';

/*
 * Review 249 (seed 004: keys live in the node's Secure Environment): an App-ID's instance may sign in on a node with
 * its App-ID's own credential (owner kind `app`, the one the App-ID is enrolled with), so that credential's key is held
 * on every node an association with it was established on. A node revoked for keyCompromise takes it with it
 * (application-credentials-of-compromised.ts). Kept apart from the AE-IDs' credentials that name their App-ID, which
 * follow the nodes their instance runs on whatever the node's reason (instance-credentials.ts), and from the App-ID's
 * dependents, which its credentials are for every reason.
 */

export const setupApplicationCredentials = (db: Database.Database): void => {
  db.exec(`CREATE TABLE IF NOT EXISTS cascade_application_owned (
    credential TEXT PRIMARY KEY,
    application TEXT NOT NULL
  ) WITHOUT ROWID`);
};

/** The tables `setupApplicationCredentials` makes. */
export const APPLICATION_CREDENTIALS_TABLES = ['cascade_application_owned'] as const;

export const resetApplicationCredentials = (db: Database.Database): void => {
  db.exec(APPLICATION_CREDENTIALS_TABLES.map((table) => `DELETE FROM ${table}`).join('; '));
};

/** A credential (a stream id) issued to an App-ID (a stream id) as its own. */
export const addApplicationCredential = (db: Database.Database, credential: string, application: string): void => {
  prepared(db, 'INSERT OR IGNORE INTO cascade_application_owned (credential, application) VALUES (?, ?)').run(credential, application);
};

/** Whether the credential (a stream id) was issued to an App-ID as its own, as far as the log has said. */
export const isApplicationCredential = (db: Database.Database, credential: string): boolean =>
  prepared(db, 'SELECT 1 FROM cascade_application_owned WHERE credential = ?').get(credential) !== undefined;
