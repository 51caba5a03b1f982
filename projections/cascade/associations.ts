import type Database from 'better-sqlite3';
import { streamIdOf } from '../../domain/streams.ts';
import { prepared } from '../runtime/index.ts';
import { isApplicationCredential } from './application-credentials.ts';

/** The AE-ID of an App-ID's instance (an association whose registree is an AE): how the instance is named. */
export const addInstance = (db: Database.Database, association: string, aeId: string): void => {
  prepared(db, 'INSERT OR IGNORE INTO cascade_instances (association, ae_id) VALUES (?, ?)').run(association, aeId);
};

/**
 * What an association derives from, as configured, and whether it was established: what the cascade's bookkeeping
 * and re-checks need of it, read from this table instead of rebuilding the association (issue 15 item 5).
 */
export interface AssociationLinks {
  readonly credentialId?: string;
  readonly nodeId?: string;
  /** The App-ID and AE-ID when the registree is an AE. */
  readonly application?: { readonly appId: string; readonly aeId: string };
  /** The CSE-ID when the registree is a CSE: its node must hold it still (RS-01). */
  readonly cseId?: string;
  /**
   * Its credential is its App-ID's own (owner kind app), as far as the log has said: once established, that key was
   * held on the node, and the node's revocation for keyCompromise takes the credential with it (review 249).
   */
  readonly onApplicationCredential?: true;
  readonly established: boolean;
}

export const addAssociation = (db: Database.Database, associationId: string, links: Omit<AssociationLinks, 'established'>): void => {
  prepared(
    db,
    'INSERT OR IGNORE INTO cascade_associations (association_id, credential_id, node_id, app_id, ae_id, cse_id, established) VALUES (?, ?, ?, ?, ?, ?, 0)',
  ).run(associationId, links.credentialId ?? null, links.nodeId ?? null, links.application?.appId ?? null, links.application?.aeId ?? null, links.cseId ?? null);
};

export const markEstablished = (db: Database.Database, associationId: string): void => {
  prepared(db, 'UPDATE cascade_associations SET established = 1 WHERE association_id = ?').run(associationId);
};

export const associationLinks = (db: Database.Database, associationId: string): AssociationLinks | undefined => {
  const row = prepared(db, 'SELECT credential_id, node_id, app_id, ae_id, cse_id, established FROM cascade_associations WHERE association_id = ?').get(associationId) as
    | { credential_id: string | null; node_id: string | null; app_id: string | null; ae_id: string | null; cse_id: string | null; established: bigint | number }
    | undefined;
  if (row === undefined) return undefined;
  return {
    ...(row.credential_id !== null ? { credentialId: row.credential_id } : {}),
    ...(row.node_id !== null ? { nodeId: row.node_id } : {}),
    ...(row.app_id !== null && row.ae_id !== null ? { application: { appId: row.app_id, aeId: row.ae_id } } : {}),
    ...(row.cse_id !== null ? { cseId: row.cse_id } : {}),
    ...(row.credential_id !== null && isApplicationCredential(db, streamIdOf('credential', row.credential_id)) ? { onApplicationCredential: true as const } : {}),
    established: Number(row.established) === 1,
  };
};
