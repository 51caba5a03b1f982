import type Database from 'better-sqlite3';
import type { Owner } from '../../domain/events/index.ts';
import { prepared } from '../runtime/index.ts';

/*
 * RS-01: a credential must never outlive the node its holder runs on. An AE-ID's credential that names its App-ID
 * (review 41) is held by that App-ID's instance under the AE-ID (review 44), and that instance may run on another node
 * later (a new association of the same App-ID and AE-ID on another node: a device replaced, the AE re-registered
 * elsewhere). Linked once, at its issue or the first association naming the instance, it followed the first node only:
 * revoking the node the instance runs on now left it live.
 *
 * The instance runs on a node once an association of it on that node is established (review 48): configured only, it
 * never ran there (a typo, a device that never came, an association revoked on arrival), and that node's revocation
 * takes nothing of it. Every node it ran on is kept, and every live credential issued to it: each credential follows
 * each of those nodes, linked when the association is established (the credentials it holds then) and when a
 * credential is issued (the nodes it runs on that have not ended). The links to the nodes it ran on before stay: its
 * key was held there (seed 004: keys live in the node's Secure Environment), so revoking one of those still revokes it.
 * Review 49: this is the only way such a credential follows a node, also when issued before the instance ran anywhere.
 *
 * The one rule of the cascade's `credential-of-node` links of such credentials (projections/cascade/
 * instance-credentials.ts), by which it revokes them with the node (endNode), on the node's move off the subscription
 * their CA certifies (credentialsOfTheSubscriptionLeft), and of the `pki` read model's holders (review 402), which owes
 * those revocations before the cascade records them: here, so both import it without either importing the other. Each
 * keeps the rule's two tables in its own read model (`InstanceTables`), and says how it names an ended node and links.
 */

/** Where a read model keeps the rule, and how it follows a node. */
export interface InstanceTables {
  /** (instance, credential): the live credentials issued to each instance. */
  readonly credentials: string;
  /** (instance, node): the nodes each instance was established on. */
  readonly nodes: string;
  /** An SQL condition on `n.node` (a node as this read model names it): true when that node has ended. */
  readonly nodeEnded: string;
  /** `credential` follows `node` from now on: its end ends the credential. */
  readonly link: (db: Database.Database, node: string, credential: string) => void;
}

/** The tables of the rule, as `t` names them. */
export const instanceTablesSql = (t: InstanceTables): string => `CREATE TABLE IF NOT EXISTS ${t.credentials} (
    instance TEXT NOT NULL,
    credential TEXT NOT NULL,
    PRIMARY KEY (instance, credential)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS ${t.credentials}_credential ON ${t.credentials} (credential);
  CREATE TABLE IF NOT EXISTS ${t.nodes} (
    instance TEXT NOT NULL,
    node TEXT NOT NULL,
    PRIMARY KEY (instance, node)
  ) WITHOUT ROWID`;

/** An App-ID's instance under an AE-ID, unambiguous as JSON (the cascade's `appAeKey`). */
export const instanceOf = (appId: string, aeId: string): string => JSON.stringify([appId, aeId]);

/** The instance a credential's owner names: an AE-ID naming its App-ID (review 41); none for any other owner. */
export const instanceOfOwner = (owner: Owner | undefined): string | undefined =>
  owner?.kind === 'ae' && owner.appId !== undefined ? instanceOf(owner.appId, owner.id) : undefined;

/**
 * A credential issued to `instance`: it follows every node the instance runs on that has not ended (a node's end is
 * final, and has ended what it held), and every node it is established on later. While the instance runs on no live
 * node it follows none (its App-ID still: the caller links that): review 49 found it waiting for the AE-ID's next
 * association, whose configuration alone (a typo, never established) made it that node's.
 */
export const addInstanceCredentialIn = (t: InstanceTables, db: Database.Database, instance: string, credential: string): void => {
  prepared(db, `INSERT OR IGNORE INTO ${t.credentials} (instance, credential) VALUES (?, ?)`).run(instance, credential);
  const nodes = prepared(db, `SELECT n.node FROM ${t.nodes} n WHERE n.instance = ? AND NOT ${t.nodeEnded} ORDER BY n.node`).all(instance) as { node: string }[];
  for (const { node } of nodes) t.link(db, node, credential);
};

/**
 * An ended credential follows no node the instance runs on later: forgotten, so a long-lived instance's next
 * association visits its live credentials only, not every one it was ever issued.
 */
export const endInstanceCredentialIn = (t: InstanceTables, db: Database.Database, credential: string): void => {
  prepared(db, `DELETE FROM ${t.credentials} WHERE credential = ?`).run(credential);
};

/**
 * `instance` runs on `node` from now on: an association of it there was established. Every live credential issued to
 * it follows that node too, besides those it ran on before. Not to be called for a node (or App-ID) that has ended
 * already (an association stored after it ended): that takes nothing back.
 */
export const instanceRunsOnIn = (t: InstanceTables, db: Database.Database, instance: string, node: string): void => {
  prepared(db, `INSERT OR IGNORE INTO ${t.nodes} (instance, node) VALUES (?, ?)`).run(instance, node);
  const credentials = prepared(db, `SELECT credential FROM ${t.credentials} WHERE instance = ? ORDER BY credential`).all(instance) as { credential: string }[];
  for (const { credential } of credentials) t.link(db, node, credential);
};
