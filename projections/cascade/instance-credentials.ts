import type Database from 'better-sqlite3';
import { prepared } from '../runtime/index.ts';
import { addDependent } from './dependents.ts';

/*
 * RS-01: a credential must never outlive the node its holder runs on. An AE-ID's credential that names its App-ID
 * (review 41) is held by that App-ID's instance under the AE-ID (`app-ae`, review 44), and that instance may run on
 * another node later (a new association of the same App-ID and AE-ID on another node: a device replaced, the AE
 * re-registered elsewhere). Linked once, at its issue or the first association naming the instance, it followed the
 * first node only: revoking the node the instance runs on now left it live. Every credential
 * issued to the instance is kept here, so each association of the instance on a node makes them that node's
 * dependents too. The links to the nodes it ran on before stay: its key was held there (seed 004: keys live in the
 * node's Secure Environment), so revoking one of those still revokes it.
 */

export const setupInstanceCredentials = (db: Database.Database): void => {
  db.exec(`CREATE TABLE IF NOT EXISTS cascade_instance_credentials (
    instance TEXT NOT NULL,
    credential TEXT NOT NULL,
    PRIMARY KEY (instance, credential)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS cascade_instance_credentials_credential ON cascade_instance_credentials (credential)`);
};

/** The tables `setupInstanceCredentials` makes. */
export const INSTANCE_CREDENTIALS_TABLES = ['cascade_instance_credentials'] as const;

export const resetInstanceCredentials = (db: Database.Database): void => {
  db.exec('DELETE FROM cascade_instance_credentials');
};

/** A credential (a stream id) issued to the App-ID's instance under an AE-ID (`instance`: its `appAeKey`). */
export const addInstanceCredential = (db: Database.Database, instance: string, credential: string): void => {
  prepared(db, 'INSERT OR IGNORE INTO cascade_instance_credentials (instance, credential) VALUES (?, ?)').run(instance, credential);
};

/**
 * An ended credential (a stream id) follows no node the instance runs on later: forgotten, so a long-lived instance's
 * next association visits its live credentials only, not every one it was ever issued.
 */
export const endInstanceCredential = (db: Database.Database, credential: string): void => {
  prepared(db, 'DELETE FROM cascade_instance_credentials WHERE credential = ?').run(credential);
};

/**
 * The instance (`appAeKey`) runs on `node` (a stream id) from now on: every credential issued to it follows that node
 * too, besides those it ran on before. Not called for a node (or App-ID) that has ended already (an association stored
 * after it ended): that takes nothing back, as with the identifiers (dependents.ts `learnIdentifier`).
 */
export const instanceRunsOn = (db: Database.Database, instance: string, node: string): void => {
  const credentials = prepared(db, 'SELECT credential FROM cascade_instance_credentials WHERE instance = ? ORDER BY credential').all(instance) as { credential: string }[];
  for (const { credential } of credentials) addDependent(db, node, 'credential-of-node', credential);
};
