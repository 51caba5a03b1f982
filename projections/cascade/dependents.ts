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
    by_cascade INTEGER NOT NULL,
    raised_reason TEXT,
    raised_position INTEGER,
    raised_event_id TEXT
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
