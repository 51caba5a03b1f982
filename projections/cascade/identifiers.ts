import type Database from 'better-sqlite3';
import { prepared } from '../runtime/index.ts';
import { addDependent } from './dependents.ts';

/**
 * A CSE-ID or AE-ID: what a credential may be issued to besides a node or an App-ID. An AE credential that names its
 * App-ID is not linked through an identifier: it follows the nodes that App-ID's instance under the AE-ID is
 * established on (instance-credentials.ts, review 49), never the node of an association only configured, nor another
 * App-ID's that used the same AE-ID (review 44).
 */
export type IdentifierKind = 'cse' | 'ae';

/** An AE-ID as one App-ID uses it (that App-ID's instance, review 44): unambiguous, as JSON. */
export const appAeKey = (appId: string, aeId: string): string => JSON.stringify([appId, aeId]);

/**
 * A credential issued to a CSE-ID that names the node holding it (review 41) is that node's while the node holds that
 * CSE-ID: kept here with its CSE-ID, so the node's re-enrolment under another revokes it (review 44, RS-01).
 */
export const addCseCredential = (db: Database.Database, credential: string, cseId: string): void => {
  prepared(db, 'INSERT OR IGNORE INTO cascade_cse_credentials (credential, cse_id) VALUES (?, ?)').run(credential, cseId);
};

/** The CSE-ID a credential (a stream id) naming its node was issued to; undefined for any other credential. */
export const cseIdOfCredential = (db: Database.Database, credential: string): string | undefined =>
  (prepared(db, 'SELECT cse_id FROM cascade_cse_credentials WHERE credential = ?').get(credential) as { cse_id: string } | undefined)?.cse_id;

/** The node (and, for an AE, the App-ID) a CSE-ID or AE-ID belongs to now, as stream ids; undefined while unknown. */
export const ownerOfIdentifier = (
  db: Database.Database,
  kind: IdentifierKind,
  id: string,
): { readonly node: string; readonly application?: string } | undefined => {
  const row = prepared(db, 'SELECT node, application FROM cascade_identifiers WHERE kind = ? AND id = ?').get(kind, id) as
    | { node: string; application: string | null }
    | undefined;
  return row === undefined ? undefined : { node: row.node, ...(row.application !== null ? { application: row.application } : {}) };
};

/** The credential follows the node (and App-ID) its CSE or AE belongs to: revoking that revokes it (RS-01). */
const attachOwned = (db: Database.Database, credential: string, owner: { readonly node: string; readonly application?: string }): void => {
  addDependent(db, owner.node, 'credential-of-node', credential);
  if (owner.application !== undefined) addDependent(db, owner.application, 'credential-of-application', credential);
};

/**
 * A credential issued to a CSE-ID or AE-ID belongs to the node (and App-ID) the identifier belongs to when it is
 * issued: linked now, once. When no event has said yet, it waits for the first that does (`learnIdentifier`). One
 * issued to an App-ID's instance is not linked here (instance-credentials.ts).
 */
export const addOwnedCredential = (db: Database.Database, kind: IdentifierKind, id: string, credential: string): void => {
  const owner = ownerOfIdentifier(db, kind, id);
  if (owner !== undefined) attachOwned(db, credential, owner);
  else prepared(db, 'INSERT OR IGNORE INTO cascade_owned (kind, id, credential) VALUES (?, ?, ?)').run(kind, id, credential);
};

/** Credentials issued to the identifier while no event had said whose it is (streams): `learnIdentifier` links them. */
export const waitingFor = (db: Database.Database, kind: IdentifierKind, id: string): string[] =>
  (prepared(db, 'SELECT credential FROM cascade_owned WHERE kind = ? AND id = ? ORDER BY credential').all(kind, id) as { credential: string }[]).map(
    (r) => r.credential,
  );

/**
 * Whose a CSE-ID or AE-ID is from now on: the latest event that names it says (a node's enrolment its CSE-ID, an
 * association its registree's). The credentials waiting for it are linked to that owner, once; credentials issued
 * before keep the owner they were issued under.
 */
export const learnIdentifier = (
  db: Database.Database,
  kind: IdentifierKind,
  id: string,
  owner: { readonly node: string; readonly application?: string },
  /** False when that owner has ended already (an association stored after its node ended): it takes nothing back. */
  current = true,
): void => {
  if (current) {
    prepared(db,
      `INSERT INTO cascade_identifiers (kind, id, node, application) VALUES (?, ?, ?, ?)
       ON CONFLICT (kind, id) DO UPDATE SET node = excluded.node, application = excluded.application`,
    ).run(kind, id, owner.node, owner.application ?? null);
  }
  for (const credential of waitingFor(db, kind, id)) attachOwned(db, credential, owner);
  prepared(db, 'DELETE FROM cascade_owned WHERE kind = ? AND id = ?').run(kind, id);
};

/** An ended node or App-ID owns no identifier any more: a credential issued to one later is another owner's. */
export const releaseIdentifiersOf = (db: Database.Database, owner: string): void => {
  prepared(db, 'DELETE FROM cascade_identifiers WHERE node = ? OR application = ?').run(owner, owner);
};
