import type Database from 'better-sqlite3';
import { prepared } from '../runtime/index.ts';
import { addDependent } from './dependents.ts';

/*
 * RS-01: a credential must never outlive the node its holder runs on. An AE-ID's credential that names its App-ID
 * (review 41) is held by that App-ID's instance under the AE-ID (`app-ae`, review 44), and that instance may run on
 * another node later (a new association of the same App-ID and AE-ID on another node: a device replaced, the AE
 * re-registered elsewhere). Linked once, at its issue or the first association naming the instance, it followed the
 * first node only: revoking the node the instance runs on now left it live.
 *
 * The instance runs on a node once an association of it on that node is established (review 48): configured only,
 * it never ran there (a typo, a device that never came, an association revoked on arrival), and that node's
 * revocation takes nothing of it. Every node it ran on is kept (cascade_instance_nodes), and every live credential
 * issued to it (cascade_instance_credentials): each credential is a dependent of each of those nodes, linked when the
 * association is established (the credentials it holds then) and when a credential is issued (the nodes it runs on
 * that have not ended). The links to the nodes it ran on before stay: its key was held there (seed 004: keys live in
 * the node's Secure Environment), so revoking one of those still revokes it. Review 49: this is the only way such a
 * credential follows a node, also when issued before the instance ran anywhere (no identifier it waits for).
 */

export const setupInstanceCredentials = (db: Database.Database): void => {
  db.exec(`CREATE TABLE IF NOT EXISTS cascade_instance_credentials (
    instance TEXT NOT NULL,
    credential TEXT NOT NULL,
    PRIMARY KEY (instance, credential)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS cascade_instance_credentials_credential ON cascade_instance_credentials (credential);
  CREATE TABLE IF NOT EXISTS cascade_instance_nodes (
    instance TEXT NOT NULL,
    node TEXT NOT NULL,
    PRIMARY KEY (instance, node)
  ) WITHOUT ROWID`);
};

/** The tables `setupInstanceCredentials` makes. */
export const INSTANCE_CREDENTIALS_TABLES = ['cascade_instance_credentials', 'cascade_instance_nodes'] as const;

export const resetInstanceCredentials = (db: Database.Database): void => {
  db.exec(INSTANCE_CREDENTIALS_TABLES.map((table) => `DELETE FROM ${table}`).join('; '));
};

/**
 * A credential (a stream id) issued to the App-ID's instance under an AE-ID (`instance`: its `appAeKey`): it follows
 * every node the instance runs on that has not ended (a node's end is final, and has revoked what it held), and every
 * node it is established on later. While the instance runs on no live node it follows none (its App-ID still: the
 * caller links that): review 49 found it waiting for the AE-ID's next association, whose configuration alone (a typo,
 * never established) made it that node's, and that node's revocation revoked it and the live association elsewhere.
 */
export const addInstanceCredential = (db: Database.Database, instance: string, credential: string): void => {
  prepared(db, 'INSERT OR IGNORE INTO cascade_instance_credentials (instance, credential) VALUES (?, ?)').run(instance, credential);
  const nodes = prepared(
    db,
    `SELECT n.node FROM cascade_instance_nodes n
     WHERE n.instance = ? AND NOT EXISTS (SELECT 1 FROM cascade_endings e WHERE e.stream_id = n.node) ORDER BY n.node`,
  ).all(instance) as { node: string }[];
  for (const { node } of nodes) addDependent(db, node, 'credential-of-node', credential);
};

/**
 * An ended credential (a stream id) follows no node the instance runs on later: forgotten, so a long-lived instance's
 * next association visits its live credentials only, not every one it was ever issued.
 */
export const endInstanceCredential = (db: Database.Database, credential: string): void => {
  prepared(db, 'DELETE FROM cascade_instance_credentials WHERE credential = ?').run(credential);
};

/**
 * The instance (`appAeKey`) runs on `node` (a stream id) from now on: an association of it there was established.
 * Every live credential issued to it follows that node too, besides those it ran on before. Not called for a node (or
 * App-ID) that has ended already (an association stored after it ended): that takes nothing back, as with the
 * identifiers (identifiers.ts `learnIdentifier`).
 */
export const instanceRunsOn = (db: Database.Database, instance: string, node: string): void => {
  prepared(db, 'INSERT OR IGNORE INTO cascade_instance_nodes (instance, node) VALUES (?, ?)').run(instance, node);
  const credentials = prepared(db, 'SELECT credential FROM cascade_instance_credentials WHERE instance = ? ORDER BY credential').all(instance) as { credential: string }[];
  for (const { credential } of credentials) addDependent(db, node, 'credential-of-node', credential);
};
