import type Database from 'better-sqlite3';
import type { QueryIndex } from '../runtime/index.ts';
import { HOLDER, LIVE_CREDENTIAL } from './dangling-credentials.ts';
import { COMPLIANCE_DATING_TABLES } from './revocation-dates.ts';

/**
 * What the compliance queries (queries.ts) search by; `apply` finds rows by primary key only. Revocations of one
 * reason are searched by the reason first (review 461): in log order by (reason, position), within a window or the
 * newest first by (reason, at, position) or (reason, recorded_ms, position). Filtered from the window's index instead,
 * a reason that matched nothing read every revocation (400,000: 63 to 199 ms); the one index on (reason, at) before
 * no plan chose, the query then writing `(? IS NULL OR reason = ?)`, which no index serves (`setup` drops it by its
 * old name: these are built under new ones).
 */
export const COMPLIANCE_QUERY_INDEXES: readonly QueryIndex[] = [
  { name: 'compliance_revocations_at', create: 'CREATE INDEX IF NOT EXISTS compliance_revocations_at ON compliance_revocations (at)' },
  // `by=recorded` (review 305): a window by when each revocation was recorded, which gains no row once passed.
  { name: 'compliance_revocations_recorded', create: 'CREATE INDEX IF NOT EXISTS compliance_revocations_recorded ON compliance_revocations (recorded_ms)' },
  {
    name: 'compliance_revocations_reason_position',
    create: 'CREATE INDEX IF NOT EXISTS compliance_revocations_reason_position ON compliance_revocations (reason, position)',
  },
  { name: 'compliance_revocations_reason_at', create: 'CREATE INDEX IF NOT EXISTS compliance_revocations_reason_at ON compliance_revocations (reason, at, position)' },
  {
    name: 'compliance_revocations_reason_recorded',
    create: 'CREATE INDEX IF NOT EXISTS compliance_revocations_reason_recorded ON compliance_revocations (reason, recorded_ms, position)',
  },
  { name: 'compliance_credentials_expiry', create: 'CREATE INDEX IF NOT EXISTS compliance_credentials_expiry ON compliance_credentials (status, not_after_ms)' },
  // The `provisioned` query pages by listing, not by proof (review 101): a row held back is listed when it is written.
  {
    name: 'compliance_provisioned_listing',
    create: 'CREATE INDEX IF NOT EXISTS compliance_provisioned_listing ON compliance_provisioned (subscription_id, listed_position, credential_id)',
  },
  { name: 'compliance_associations_credential', create: 'CREATE INDEX IF NOT EXISTS compliance_associations_credential ON compliance_associations (credential_id, status)' },
  // dangling-associations from each ended node or App-ID (few) to its live associations (review 249).
  { name: 'compliance_associations_node', create: 'CREATE INDEX IF NOT EXISTS compliance_associations_node ON compliance_associations (node_id, status)' },
  { name: 'compliance_associations_app', create: 'CREATE INDEX IF NOT EXISTS compliance_associations_app ON compliance_associations (app_id, status)' },
  // dangling-credentials from each ended node or App-ID (few) to its live credentials (review 314): by the node or
  // App-ID each names (./dangling-credentials.ts `HOLDER`, the same text, or SQLite does not use it), live ones only.
  {
    name: 'compliance_credentials_live_holder',
    create: `CREATE INDEX IF NOT EXISTS compliance_credentials_live_holder ON compliance_credentials (${HOLDER}, owner_kind) WHERE ${LIVE_CREDENTIAL}`,
  },
];

/** The tables `setupComplianceTables` makes (dropped when the projection's schema version changes). */
export const COMPLIANCE_TABLES = [
  'compliance_revocations',
  'compliance_enrolments',
  'compliance_enrolment_history',
  'compliance_credentials',
  'compliance_provisioned',
  'compliance_associations',
  'compliance_identifiers',
  'compliance_pending_provisionings',
  'compliance_subscriptions',
  'compliance_rotations',
  'compliance_lapses',
  'compliance_endings',
  'compliance_association_configurations',
] as const;

/**
 * Compliance read models. Every row keeps the global position of the event that proves it, so the
 * non-repudiation log can hand over an inclusion proof for each answer.
 */
export const setupComplianceTables = (db: Database.Database): void => {
  // A revocation's `at` and `occurred_at`: when it occurred, as the CRL's invalidityDate (its revocationDate where it
  // has none) and OCSP's invalidityDate give it (review 197, revocation-dates.ts);
  // `recorded_at`: when its event was recorded, where that is later (NULL where it is the same); `recorded_ms`: when
  // it was recorded, epoch ms, always (review 305: what `by=recorded` windows by).
  db.exec(`CREATE TABLE IF NOT EXISTS compliance_revocations (
    position INTEGER PRIMARY KEY,
    stream_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    at INTEGER NOT NULL,
    occurred_at TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    recorded_at TEXT,
    recorded_ms INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS compliance_enrolments (
    node_id TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL,
    position INTEGER NOT NULL
  ) WITHOUT ROWID;
  -- Each change of a node's enrolment: under a subscription from its position on, or ended there (subscription_id NULL).
  -- A provisioning held back until its node is known counts under the one in force at its own position (review 101).
  CREATE TABLE IF NOT EXISTS compliance_enrolment_history (
    node_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    subscription_id TEXT,
    PRIMARY KEY (node_id, position)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS compliance_credentials (
    credential_id TEXT PRIMARY KEY,
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    owner_node_id TEXT,
    owner_app_id TEXT,
    not_after TEXT NOT NULL,
    not_after_ms INTEGER NOT NULL,
    status TEXT NOT NULL,
    issued_position INTEGER NOT NULL,
    status_position INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS compliance_provisioned (
    credential_id TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL,
    node_id TEXT NOT NULL,
    method TEXT NOT NULL,
    position INTEGER NOT NULL,
    enrolment_position INTEGER NOT NULL,
    occurred_at TEXT NOT NULL,
    listed_position INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS compliance_identifiers (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    node_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (id, kind)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS compliance_pending_provisionings (
    credential_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    method TEXT NOT NULL,
    position INTEGER NOT NULL,
    occurred_at TEXT NOT NULL,
    at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS compliance_pending_provisionings_identifier ON compliance_pending_provisionings (id, kind);
  CREATE TABLE IF NOT EXISTS compliance_associations (
    association_id TEXT PRIMARY KEY,
    credential_id TEXT NOT NULL,
    node_id TEXT NOT NULL,
    status TEXT NOT NULL,
    status_position INTEGER NOT NULL,
    app_id TEXT,
    ae_id TEXT
  ) WITHOUT ROWID;
  -- What a provisioning is listed under a subscription by (review 155): its notAfter (SubscriptionCreated, NULL until
  -- it is read) and the earliest position a termination or expiry ended it at (NULL while none did).
  -- The parents an association follows besides its credential (review 249), each ending once at its position:
  -- kind 'node' (NodeRevoked, NodeEnrolmentExpired), 'application' (ApplicationRevoked), 'application-enrolment'
  -- (ApplicationEnrolmentEnded: of the associations configured before it; the App-ID may be enrolled again).
  CREATE TABLE IF NOT EXISTS compliance_endings (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    position INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (kind, id, position)
  ) WITHOUT ROWID;
  -- Where each association was first configured: an App-ID's enrolment end ends those configured before it.
  CREATE TABLE IF NOT EXISTS compliance_association_configurations (
    association_id TEXT PRIMARY KEY,
    position INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS compliance_subscriptions (
    subscription_id TEXT PRIMARY KEY,
    not_after_ms INTEGER,
    ended_position INTEGER
  ) WITHOUT ROWID;
  ${COMPLIANCE_DATING_TABLES}`);
  for (const index of COMPLIANCE_QUERY_INDEXES) db.exec(index.create);
  // The index on (reason, at) no plan read (review 461 reads the reason through the ones above, by new names): a read
  // model written before keeps its rows (they are unchanged), not the index.
  db.exec('DROP INDEX IF EXISTS compliance_revocations_reason');
};

export const resetComplianceTables = (db: Database.Database): void => {
  db.exec(COMPLIANCE_TABLES.map((table) => `DELETE FROM ${table}`).join('; '));
};
