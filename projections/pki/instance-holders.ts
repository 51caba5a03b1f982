import type Database from 'better-sqlite3';
import type { Owner } from '../../domain/events/index.ts';
import { prepared } from '../runtime/index.ts';
import { addInstanceCredentialIn, endInstanceCredentialIn, instanceOf, instanceOfOwner, instanceRunsOnIn, instanceTablesSql, type InstanceTables } from './app-instances.ts';
import { applicationHolder, nodeHolder, recordHolder } from './owner-endings.ts';

/*
 * Review 402: a certificate issued to an AE-ID naming its App-ID follows, in the cascade, every node that App-ID's
 * instance under the AE-ID is established on (app-instances.ts, the rule both import): the node's revocation, its
 * expired enrolment and its move off the subscription the certificate's CA certifies revoke it. The `pki` read model
 * followed its App-ID alone, and OCSP answered `good` for it until the cascade's revocation. So each such node is a
 * holder of the certificate here too (owner-endings.ts `pki_holders`), and what ends or moves that node owes its
 * revocation as it does the node's own certificates'. Only AE associations are kept, by their id, until established, revoked or expired.
 */
const PKI_INSTANCES: InstanceTables = {
  credentials: 'pki_instance_credentials',
  nodes: 'pki_instance_nodes',
  nodeEnded: "EXISTS (SELECT 1 FROM pki_ended_holders e WHERE e.holder = 'node:' || n.node)",
  link: (db, node, credential) => recordHolder(db, nodeHolder(node), credential),
};

export const PKI_INSTANCE_TABLES = `${instanceTablesSql(PKI_INSTANCES)};
  CREATE TABLE IF NOT EXISTS pki_instance_associations (
    association_id TEXT PRIMARY KEY,
    instance TEXT NOT NULL,
    app_id TEXT NOT NULL,
    node_id TEXT NOT NULL
  ) WITHOUT ROWID`;

/** The tables above, emptied by a rebuild; the second is the marker of a read model that follows instances (tables.ts). */
export const PKI_INSTANCE_TABLE_NAMES = ['pki_instance_credentials', 'pki_instance_nodes', 'pki_instance_associations'] as const;

/** Credential `credentialId` (a certificate of ours) of `owner`: when issued to an App-ID's instance, it follows its nodes. */
export const recordInstanceCredential = (db: Database.Database, credentialId: string, owner: Owner | undefined): void => {
  const instance = instanceOfOwner(owner);
  if (instance !== undefined) addInstanceCredentialIn(PKI_INSTANCES, db, instance, credentialId);
};

/** The credential ended (revoked, expired): it follows no node its instance runs on later. */
export const endInstanceCredential = (db: Database.Database, credentialId: string): void => endInstanceCredentialIn(PKI_INSTANCES, db, credentialId);

/** An association configured for an AE Registree (App-ID `appId`, AE-ID `aeId`) on `nodeId`: kept until it is established. */
export const recordInstanceAssociation = (db: Database.Database, associationId: string, nodeId: string, registree: { kind: string; id: string; appId?: string }): void => {
  if (registree.kind !== 'ae' || registree.appId === undefined) return;
  prepared(db, 'INSERT OR IGNORE INTO pki_instance_associations (association_id, instance, app_id, node_id) VALUES (?, ?, ?, ?)').run(
    associationId,
    instanceOf(registree.appId, registree.id),
    registree.appId,
    nodeId,
  );
};

/**
 * The association was revoked or expired (review 411): if never established, its row is done with; if established, it
 * has none, and the nodes its instance ran on stay followed (as the cascade reads them).
 */
export const forgetInstanceAssociation = (db: Database.Database, associationId: string): void => {
  prepared(db, 'DELETE FROM pki_instance_associations WHERE association_id = ?').run(associationId);
};

/**
 * The association was established: its instance runs on its node from now on, unless that node or its App-ID ended
 * before (as the cascade reads it: an association stored after takes nothing back). Its row is done with.
 */
export const recordInstanceEstablished = (db: Database.Database, associationId: string): void => {
  const row = prepared(db, 'SELECT instance, app_id, node_id FROM pki_instance_associations WHERE association_id = ?').get(associationId) as
    | { instance: string; app_id: string; node_id: string }
    | undefined;
  if (row === undefined) return;
  prepared(db, 'DELETE FROM pki_instance_associations WHERE association_id = ?').run(associationId);
  const ended = (holder: string): boolean => prepared(db, 'SELECT 1 FROM pki_ended_holders WHERE holder = ?').get(holder) !== undefined;
  if (ended(nodeHolder(row.node_id)) || ended(applicationHolder(row.app_id))) return;
  instanceRunsOnIn(PKI_INSTANCES, db, row.instance, row.node_id);
};
