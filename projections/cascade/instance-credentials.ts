import type Database from 'better-sqlite3';
import { addInstanceCredentialIn, endInstanceCredentialIn, instanceRunsOnIn, instanceTablesSql, type InstanceTables } from '../pki/app-instances.ts';
import { addDependent } from './dependents.ts';

/*
 * RS-01 (reviews 44, 48, 49): an AE-ID's credential that names its App-ID follows every node that App-ID's instance
 * under the AE-ID is established on (cascade_instance_nodes), as a `credential-of-node` dependent, linked when the
 * association is established (the live credentials it holds then, cascade_instance_credentials) and when a credential
 * is issued (the nodes it runs on that have not ended). The rule lives with the `pki` read model, which owes these
 * revocations before the cascade records them (projections/pki/app-instances.ts, review 402): both follow it alike.
 */
const CASCADE_INSTANCES: InstanceTables = {
  credentials: 'cascade_instance_credentials',
  nodes: 'cascade_instance_nodes',
  nodeEnded: 'EXISTS (SELECT 1 FROM cascade_endings e WHERE e.stream_id = n.node)',
  link: (db, node, credential) => addDependent(db, node, 'credential-of-node', credential),
};

export const setupInstanceCredentials = (db: Database.Database): void => {
  db.exec(instanceTablesSql(CASCADE_INSTANCES));
};

/** The tables `setupInstanceCredentials` makes. */
export const INSTANCE_CREDENTIALS_TABLES = ['cascade_instance_credentials', 'cascade_instance_nodes'] as const;

export const resetInstanceCredentials = (db: Database.Database): void => {
  db.exec(INSTANCE_CREDENTIALS_TABLES.map((table) => `DELETE FROM ${table}`).join('; '));
};

/**
 * A credential (a stream id) issued to the App-ID's instance under an AE-ID (`instance`: its `appAeKey`): it follows
 * every node (stream ids) the instance runs on that has not ended, and every node it is established on later
 * (addInstanceCredentialIn). Its App-ID the caller links.
 */
export const addInstanceCredential = (db: Database.Database, instance: string, credential: string): void =>
  addInstanceCredentialIn(CASCADE_INSTANCES, db, instance, credential);

/** An ended credential (a stream id) follows no node the instance runs on later (endInstanceCredentialIn). */
export const endInstanceCredential = (db: Database.Database, credential: string): void => endInstanceCredentialIn(CASCADE_INSTANCES, db, credential);

/**
 * The instance (`appAeKey`) runs on `node` (a stream id) from now on: an association of it there was established
 * (instanceRunsOnIn). Not called for a node (or App-ID) that has ended already, as with the identifiers
 * (identifiers.ts `learnIdentifier`).
 */
export const instanceRunsOn = (db: Database.Database, instance: string, node: string): void => instanceRunsOnIn(CASCADE_INSTANCES, db, instance, node);
