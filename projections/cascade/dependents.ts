import type Database from 'better-sqlite3';
import { prepared } from '../runtime/index.ts';

/**
 * Which entities depend on which: the cascade's memory. A row says that `child` must follow `parent` when the
 * parent is revoked (or, for a subscription, ends).
 */
export type Relation =
  | 'credential-of-node'
  | 'credential-of-application'
  | 'association-of-credential'
  | 'association-of-node'
  | 'association-of-application'
  | 'node-of-subscription'
  /**
   * An App-ID enrolled with a credential (seed 003 11.2.2): the credential's end ends its authorisation. Kept once the
   * enrolment ended with it (what an auditor looks for), dropped when the App-ID moved onto another credential.
   */
  | 'application-enrolled-with';

export const setupDependents = (db: Database.Database): void => {
  db.exec(`CREATE TABLE IF NOT EXISTS cascade_dependents (
    parent TEXT NOT NULL,
    relation TEXT NOT NULL,
    child TEXT NOT NULL,
    PRIMARY KEY (parent, relation, child)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS cascade_endings (
    stream_id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    type TEXT NOT NULL,
    reason TEXT,
    cause_event_id TEXT NOT NULL,
    by_cascade INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS cascade_endings_event ON cascade_endings (event_id);
  CREATE TABLE IF NOT EXISTS cascade_instances (
    association TEXT PRIMARY KEY,
    ae_id TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS cascade_associations (
    association_id TEXT PRIMARY KEY,
    credential_id TEXT,
    node_id TEXT,
    app_id TEXT,
    ae_id TEXT,
    cse_id TEXT,
    established INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS cascade_node_enrolments (
    node TEXT PRIMARY KEY,
    subscription TEXT NOT NULL,
    cse_id TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS cascade_identifiers (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    node TEXT NOT NULL,
    application TEXT,
    PRIMARY KEY (kind, id)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS cascade_identifiers_node ON cascade_identifiers (node);
  CREATE INDEX IF NOT EXISTS cascade_identifiers_application ON cascade_identifiers (application);
  CREATE TABLE IF NOT EXISTS cascade_owned (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    credential TEXT NOT NULL,
    PRIMARY KEY (kind, id, credential)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS cascade_cse_credentials (
    credential TEXT PRIMARY KEY,
    cse_id TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS cascade_application_credentials (
    application TEXT PRIMARY KEY,
    credential TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS cascade_application_credentials_credential ON cascade_application_credentials (credential);
  CREATE TABLE IF NOT EXISTS cascade_enrolment_ends (
    event_id TEXT PRIMARY KEY,
    stream_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    reason TEXT,
    cause_event_id TEXT NOT NULL,
    by_cascade INTEGER NOT NULL,
    credential TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS cascade_enrolment_ends_application ON cascade_enrolment_ends (stream_id, credential)`);
};

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
  }
  prepared(
    db,
    `INSERT INTO cascade_node_enrolments (node, subscription, cse_id) VALUES (?, ?, ?)
     ON CONFLICT (node) DO UPDATE SET subscription = excluded.subscription, cse_id = excluded.cse_id`,
  ).run(node, subscription, cseId);
  addDependent(db, subscription, 'node-of-subscription', node);
};

/** The CSE-ID of the node's (a stream id) latest enrolment; undefined before its first. */
export const cseIdOfNode = (db: Database.Database, node: string): string | undefined =>
  (prepared(db, 'SELECT cse_id FROM cascade_node_enrolments WHERE node = ?').get(node) as { cse_id: string } | undefined)?.cse_id;

/** The tables `setupDependents` makes. */
export const DEPENDENTS_TABLES = [
  'cascade_dependents',
  'cascade_endings',
  'cascade_instances',
  'cascade_associations',
  'cascade_node_enrolments',
  'cascade_identifiers',
  'cascade_owned',
  'cascade_cse_credentials',
  'cascade_application_credentials',
  'cascade_enrolment_ends',
] as const;

export const resetDependents = (db: Database.Database): void => {
  db.exec(DEPENDENTS_TABLES.map((table) => `DELETE FROM ${table}`).join('; '));
};

export const addDependent = (db: Database.Database, parent: string, relation: Relation, child: string): void => {
  prepared(db, 'INSERT OR IGNORE INTO cascade_dependents (parent, relation, child) VALUES (?, ?, ?)').run(parent, relation, child);
};

export const dependentsOf = (db: Database.Database, parent: string, relation: Relation): string[] =>
  (prepared(db, 'SELECT child FROM cascade_dependents WHERE parent = ? AND relation = ? ORDER BY child').all(parent, relation) as {
    child: string;
  }[]).map((r) => r.child);

/**
 * How an entity ended (revoked, or expired with what it depended on): the event, and the event that caused it. A
 * cascade's command carries its causing event's id as causationId, so following `causeEventId` through this table
 * walks a cascade back to where it started.
 */
export interface Ending {
  readonly streamId: string;
  readonly eventId: string;
  readonly position: bigint;
  readonly type: string;
  readonly reason?: string;
  readonly causeEventId: string;
  /** Ended by the process manager's command: a cascade, or a re-check that found a parent already ended. */
  readonly byCascade: boolean;
}

interface EndingRow {
  stream_id: string;
  event_id: string;
  position: bigint;
  type: string;
  reason: string | null;
  cause_event_id: string;
  by_cascade: bigint | number;
}

const toEnding = (r: EndingRow): Ending => ({
  streamId: r.stream_id,
  eventId: r.event_id,
  position: BigInt(r.position),
  type: r.type,
  ...(r.reason !== null ? { reason: r.reason } : {}),
  causeEventId: r.cause_event_id,
  byCascade: Number(r.by_cascade) === 1,
});

/** The first ending of a stream is kept: its machine's final states take no second one. */
export const addEnding = (db: Database.Database, e: Ending): void => {
  prepared(
    db,
    'INSERT OR IGNORE INTO cascade_endings (stream_id, event_id, position, type, reason, cause_event_id, by_cascade) VALUES (?, ?, ?, ?, ?, ?, ?)',
  ).run(e.streamId, e.eventId, e.position, e.type, e.reason ?? null, e.causeEventId, e.byCascade ? 1 : 0);
};

export const endingOf = (db: Database.Database, streamId: string): Ending | undefined => {
  const row = prepared(db, 'SELECT * FROM cascade_endings WHERE stream_id = ?').get(streamId) as EndingRow | undefined;
  return row === undefined ? undefined : toEnding(row);
};

/** The ending (or App-ID enrolment end) an event recorded: how a cascade is walked back through its causes. */
export const endingByEventId = (db: Database.Database, eventId: string): Ending | undefined => {
  const row = prepared(db, 'SELECT * FROM cascade_endings WHERE event_id = ?').get(eventId) as EndingRow | undefined;
  if (row !== undefined) return toEnding(row);
  const end = prepared(db, "SELECT *, 'ApplicationEnrolmentEnded' AS type FROM cascade_enrolment_ends WHERE event_id = ?").get(eventId) as EndingRow | undefined;
  return end === undefined ? undefined : toEnding(end);
};

/**
 * An App-ID's enrolment ended: not an ending of the App-ID (it stays registered, and takes commands), but a link
 * in the chain of causes between its credential's end and its instances' revocations.
 */
export const addEnrolmentEnd = (db: Database.Database, e: Omit<Ending, 'type'>, credential: string): void => {
  prepared(
    db,
    'INSERT OR IGNORE INTO cascade_enrolment_ends (event_id, stream_id, position, reason, cause_event_id, by_cascade, credential) VALUES (?, ?, ?, ?, ?, ?, ?)',
  ).run(e.eventId, e.streamId, e.position, e.reason ?? null, e.causeEventId, e.byCascade ? 1 : 0, credential);
};

/** How the App-ID's enrolment with `credential` (a stream id) ended, when it did: the last such end. */
export const enrolmentEndOf = (db: Database.Database, application: string, credential: string): Ending | undefined => {
  const row = prepared(
    db,
    "SELECT *, 'ApplicationEnrolmentEnded' AS type FROM cascade_enrolment_ends WHERE stream_id = ? AND credential = ? ORDER BY position DESC LIMIT 1",
  ).get(application, credential) as EndingRow | undefined;
  return row === undefined ? undefined : toEnding(row);
};

/** The AE-ID of an App-ID's instance (an association whose registree is an AE): how the instance is named. */
export const addInstance = (db: Database.Database, association: string, aeId: string): void => {
  prepared(db, 'INSERT OR IGNORE INTO cascade_instances (association, ae_id) VALUES (?, ?)').run(association, aeId);
};

export interface Dependent {
  readonly relation: Relation;
  readonly child: string;
  /** For an association-of-application: the AE-ID of the instance. */
  readonly aeId?: string;
}

/**
 * Every direct dependent of `parent`, at most `limit`, in the order a depth-first walk places them: an App-ID's
 * instances first (they hang under the App-ID, named by AE-ID), then the entities it owns (credentials, enrolled
 * nodes), then the associations through a credential, then a node's other associations; so a node's associations
 * are placed under their credentials, and an App-ID's instances under the App-ID.
 */
export const directDependents = (db: Database.Database, parent: string, limit: number): Dependent[] =>
  (
    prepared(
      db,
      `SELECT d.relation, d.child, i.ae_id FROM cascade_dependents d LEFT JOIN cascade_instances i ON i.association = d.child
       WHERE d.parent = ?
       ORDER BY CASE d.relation WHEN 'association-of-application' THEN 0 WHEN 'credential-of-node' THEN 1 WHEN 'credential-of-application' THEN 1
         WHEN 'node-of-subscription' THEN 1 WHEN 'association-of-credential' THEN 2 ELSE 3 END, d.relation, d.child
       LIMIT ?`,
    ).all(parent, limit) as { relation: Relation; child: string; ae_id: string | null }[]
  ).map((r) => ({
    relation: r.relation,
    child: r.child,
    ...(r.ae_id !== null && r.relation === 'association-of-application' ? { aeId: r.ae_id } : {}),
  }));

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
    established: Number(row.established) === 1,
  };
};
