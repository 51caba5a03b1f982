import type Database from 'better-sqlite3';
import type { RevocationReason } from '../../domain/events/index.ts';
import { deleteCheckpoint, prepared, readCheckpoint } from '../runtime/index.ts';
import { noteRebuild, setupProjectionSchemas, type SchemaChange } from '../runtime/schema-version.ts';
import { PKI_INSTANCE_TABLE_NAMES, PKI_INSTANCE_TABLES } from './instance-holders.ts';
import { PKI_LAPSES_TABLES } from './lapses.ts';
import { PKI_HOLDERS_TABLES } from './owner-endings.ts';
import { PKI_ROTATIONS_TABLE } from './rotations.ts';
import { findPkiSchema, PKI_OTHER_VERSION_TRIGGERS, PKI_PROJECTION, recordPkiSchemaVersion } from './schema-rebuild.ts';
import { PKI_SUBSCRIPTION_MOVES_TABLE_NAMES, PKI_SUBSCRIPTION_MOVES_TABLES } from './subscription-moves.ts';

/**
 * The revocation read model of Credence's issuing CAs (issue 13): which certificate (CA, serial) each credential
 * holds, and each revoked one with its revokedCertificates entry already encoded. `seq` orders revocations per
 * insertion, so the CRL publisher reads only what is new since it last looked (the cost of one revocation does not
 * grow with the number already revoked).
 */
export const setupPkiTables = (db: Database.Database): void => {
  setupProjectionSchemas(db);
  // One transaction: tables emptied with their index replaced and their checkpoint gone, or nothing (a crash between
  // would leave the new index on emptied tables the checkpoint says are complete).
  const setup = db.transaction(() => setupInTransaction(db));
  const change = db.inTransaction ? setup() : setup.immediate();
  // Review 402: a rebuild at upgrade is said at the start, as any read model's is (review 51, takeSchemaChanges).
  if (change !== undefined) noteRebuild(db, change);
};

const setupInTransaction = (db: Database.Database): SchemaChange | undefined => {
  // Which version wrote the tables, and so whether they are rebuilt from the log (schema-rebuild.ts).
  const found = findPkiSchema(db);
  const { rebuild, withoutIssuingKey, withoutInvalidSince } = found;
  const reached = rebuild ? readCheckpoint(db, PKI_PROJECTION)?.position : undefined;
  if (withoutIssuingKey) db.exec('ALTER TABLE pki_certificates ADD COLUMN issuer_key_id TEXT');
  if (withoutInvalidSince) db.exec('ALTER TABLE pki_revocations ADD COLUMN invalid_since TEXT');
  // Emptied by the rebuild anyway: made again below with the CSE-ID's column, and its default (subscription-moves.ts).
  if (rebuild) db.exec('DROP TABLE IF EXISTS pki_node_enrolments');
  db.exec(`CREATE TABLE IF NOT EXISTS pki_certificates (
    credential_id TEXT PRIMARY KEY,
    ca_id TEXT NOT NULL,
    serial TEXT NOT NULL,
    not_after TEXT NOT NULL,
    -- The authorityKeyIdentifier (hex) of the certificate: the CA key that signed it (issuing-key.ts). NULL for a
    -- certificate recorded without its DER (events written before it was required) or without that extension,
    -- answered by its CA id alone.
    issuer_key_id TEXT
  ) WITHOUT ROWID;
  DROP INDEX IF EXISTS pki_certificates_serial;
  CREATE INDEX IF NOT EXISTS pki_certificates_by_serial ON pki_certificates (ca_id, serial);
  -- A CA's longest-lived certificate, read at every start (adapters/http/certificates-name-another-url.ts): without it
  -- that read sorted every certificate. Created here, so a read model written before it gains it at its next open,
  -- its rows kept (one pass over them, once).
  CREATE INDEX IF NOT EXISTS pki_certificates_by_expiry ON pki_certificates (ca_id, not_after);
  CREATE TABLE IF NOT EXISTS pki_revocations (
    seq INTEGER PRIMARY KEY,
    ca_id TEXT NOT NULL,
    serial TEXT NOT NULL,
    credential_id TEXT NOT NULL,
    -- When the revocation was recorded (revocationDate, revocationTime).
    revoked_at TEXT NOT NULL,
    reason TEXT NOT NULL,
    not_after TEXT NOT NULL,
    entry BLOB NOT NULL,
    -- When the certificate became invalid, where earlier than revoked_at (invalidityDate); NULL otherwise.
    invalid_since TEXT
  );
  CREATE UNIQUE INDEX IF NOT EXISTS pki_revocations_serial ON pki_revocations (ca_id, serial);
  CREATE INDEX IF NOT EXISTS pki_revocations_ca ON pki_revocations (ca_id, seq);
  CREATE TABLE IF NOT EXISTS pki_rebuild (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    position INTEGER NOT NULL
  );
  ${PKI_ROTATIONS_TABLE};
  ${PKI_LAPSES_TABLES};
  ${PKI_HOLDERS_TABLES};
  ${PKI_SUBSCRIPTION_MOVES_TABLES};
  ${PKI_INSTANCE_TABLES};
  ${PKI_OTHER_VERSION_TRIGGERS}`);
  recordPkiSchemaVersion(db, found);
  if (!rebuild) return undefined;
  resetPkiTables(db);
  if (reached !== undefined) markRebuild(db, reached);
  deleteCheckpoint(db, PKI_PROJECTION);
  return found.change;
};

/**
 * Records, in the transaction that empties the tables for a rebuild, the position they had been projected to: until
 * the projection's checkpoint is back there, the tables hold only part of the revocations (`pkiCompleteness`). The
 * highest position is kept: a rebuild interrupted and started again must still reach the first one's.
 */
export const markRebuild = (db: Database.Database, reached: bigint): void => {
  prepared(db, 'INSERT INTO pki_rebuild (id, position) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET position = MAX(position, excluded.position)').run(reached);
};

/**
 * Forgets the position a rebuild must reach again: for a read model found to be built from another log, whose
 * positions the store's log may never reach (an event store restored from an older backup). Its tables are emptied
 * in the same transaction and projected again; until then the signers wait on `pkiStartFloor` instead.
 */
export const forgetRebuild = (db: Database.Database): void => {
  prepared(db, 'DELETE FROM pki_rebuild').run();
};

export type PkiCompleteness =
  | { readonly complete: true }
  | { readonly complete: false; readonly position: bigint | undefined; readonly until: bigint };

/**
 * Whether the tables hold every revocation they held before their last rebuild began, and reach `mustReach` (a
 * position the caller knows they must have projected): the projection's checkpoint has reached both. Read in the same
 * transaction as what is read from the tables, so both come from one committed state.
 */
export const pkiCompleteness = (db: Database.Database, mustReach?: bigint): PkiCompleteness => {
  const row = prepared(db, 'SELECT position FROM pki_rebuild WHERE id = 1').get() as { position: bigint | number } | undefined;
  const rebuilt = row === undefined ? undefined : BigInt(row.position);
  const until = rebuilt === undefined ? mustReach : mustReach === undefined || rebuilt > mustReach ? rebuilt : mustReach;
  if (until === undefined) return { complete: true };
  const checkpoint = readCheckpoint(db, PKI_PROJECTION)?.position;
  return checkpoint !== undefined && checkpoint >= until ? { complete: true } : { complete: false, position: checkpoint, until };
};

export const resetPkiTables = (db: Database.Database): void => {
  db.exec(
    'DELETE FROM pki_revocations; DELETE FROM pki_certificates; DELETE FROM pki_rotations; DELETE FROM pki_subscriptions; DELETE FROM pki_lapses; DELETE FROM pki_holders; DELETE FROM pki_ended_holders; DELETE FROM pki_owed; ' +
      [...PKI_SUBSCRIPTION_MOVES_TABLE_NAMES, ...PKI_INSTANCE_TABLE_NAMES].map((table) => `DELETE FROM ${table}`).join('; '),
  );
};

export interface IssuedCertificateRow {
  readonly credentialId: string;
  readonly caId: string;
  readonly serialNumber: string;
  readonly notAfter: string;
  /** The authorityKeyIdentifier of the certificate, lower-case hex (issuing-key.ts); absent when unknown. */
  readonly issuerKeyId?: string;
}

/**
 * One row per credential. A certificate recorded for two credentials (the same key, issued twice) is each one's: the
 * revocation of either revokes the certificate. Found in review: with one row per serial the second credential's was
 * dropped, and revoking that credential left the certificate good.
 */
export const recordCertificate = (db: Database.Database, row: IssuedCertificateRow): void => {
  prepared(db, 'INSERT OR IGNORE INTO pki_certificates (credential_id, ca_id, serial, not_after, issuer_key_id) VALUES (?, ?, ?, ?, ?)').run(
    row.credentialId,
    row.caId,
    row.serialNumber,
    row.notAfter,
    row.issuerKeyId ?? null,
  );
};

export const certificateOfCredential = (db: Database.Database, credentialId: string): IssuedCertificateRow | undefined => {
  const row = prepared(db, 'SELECT credential_id, ca_id, serial, not_after FROM pki_certificates WHERE credential_id = ?').get(credentialId) as
    | { credential_id: string; ca_id: string; serial: string; not_after: string }
    | undefined;
  return row === undefined ? undefined : { credentialId: row.credential_id, caId: row.ca_id, serialNumber: row.serial, notAfter: row.not_after };
};

export interface RevocationRow {
  readonly seq: number;
  readonly caId: string;
  readonly serialNumber: string;
  readonly credentialId: string;
  /** ISO time the revocation event was recorded: when the CA processed it (RFC 5280 5.3.2 revocationDate). */
  readonly revokedAt: string;
  readonly reason: RevocationReason;
  readonly notAfter: string;
  /** The revokedCertificates entry, DER. */
  readonly entry: Uint8Array;
  /**
   * ISO time the certificate became invalid, where earlier than `revokedAt`: the end of the overlap for a rotation's
   * handover, the subscription's notAfter for the cascade's revocation after a late-recorded lapse (projection.ts,
   * `revocationInstant`). The invalidityDate of the entry and of OCSP (RFC 5280 5.3.2, RFC 6960 4.4).
   */
  readonly invalidSince?: string;
}

/** True when it was recorded; false when that certificate was revoked already (its first revocation stands). */
export const recordRevocation = (db: Database.Database, row: Omit<RevocationRow, 'seq'>): boolean =>
  prepared(
    db,
    'INSERT OR IGNORE INTO pki_revocations (ca_id, serial, credential_id, revoked_at, reason, not_after, entry, invalid_since) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  ).run(row.caId, row.serialNumber, row.credentialId, row.revokedAt, row.reason, row.notAfter, row.entry, row.invalidSince ?? null).changes === 1;

/**
 * The revocation of (CA, serial) standing in the read model, as recorded: what a revocation's raise to keyCompromise
 * re-encodes (its instant and invalidity date stay).
 */
export const standingRevocation = (db: Database.Database, caId: string, serialNumber: string): Omit<RevocationRow, 'seq' | 'entry'> | undefined => {
  const row = prepared(db, 'SELECT * FROM pki_revocations WHERE ca_id = ? AND serial = ?').get(caId, serialNumber) as Row | undefined;
  if (row === undefined) return undefined;
  const { seq: _seq, entry: _entry, ...rest } = toRow(row);
  return rest;
};

/**
 * A revocation's reason raised to keyCompromise (machines `raisesToKeyCompromise`; RFC 5280 5.3.1): its entry
 * replaced by `entry`, and a `seq` past every other, so the CRL publisher, reading what is new since it last looked,
 * finds it and its next delta lists it (5.2.4: a delta lists the entries changed since its base). True when raised;
 * false when none stands or it was keyCompromise already.
 */
export const raiseRevocation = (db: Database.Database, caId: string, serialNumber: string, entry: Uint8Array): boolean =>
  prepared(
    db,
    `UPDATE pki_revocations SET seq = (SELECT max(seq) FROM pki_revocations) + 1, reason = 'keyCompromise', entry = ?
      WHERE ca_id = ? AND serial = ? AND reason <> 'keyCompromise'`,
  ).run(entry, caId, serialNumber).changes === 1;

interface Row {
  seq: number | bigint;
  ca_id: string;
  serial: string;
  credential_id: string;
  revoked_at: string;
  reason: string;
  not_after: string;
  entry: Buffer;
  invalid_since: string | null;
}

const toRow = (r: Row): RevocationRow => ({
  // A bigint on a connection with safe integers (the read models'): seq stays far below 2^53.
  seq: Number(r.seq),
  caId: r.ca_id,
  serialNumber: r.serial,
  credentialId: r.credential_id,
  revokedAt: r.revoked_at,
  reason: r.reason as RevocationReason,
  notAfter: r.not_after,
  entry: new Uint8Array(r.entry.buffer, r.entry.byteOffset, r.entry.byteLength),
  ...(r.invalid_since !== null ? { invalidSince: r.invalid_since } : {}),
});

/**
 * A CA's revocations after `seq` (0: all), in order, at most `limit`. With `issuerKeyId` (the CA's current key, its
 * subjectKeyIdentifier in lower-case hex), only those of certificates that key signed, or of certificates whose key is
 * not recorded: a CA made again under the same id does not list its predecessor's (review 127).
 */
export const revocationsAfter = (db: Database.Database, caId: string, seq: number, limit = 1_000_000, issuerKeyId?: string): RevocationRow[] =>
  (
    (issuerKeyId === undefined
      ? prepared(db, 'SELECT * FROM pki_revocations WHERE ca_id = ? AND seq > ? ORDER BY seq LIMIT ?').all(caId, seq, limit)
      : prepared(db, `SELECT r.* FROM pki_revocations r LEFT JOIN pki_certificates c ON c.credential_id = r.credential_id
          WHERE r.ca_id = ? AND r.seq > ? AND (c.issuer_key_id IS NULL OR c.issuer_key_id = ?) ORDER BY r.seq LIMIT ?`).all(caId, seq, issuerKeyId, limit)) as Row[]
  ).map(toRow);

export type CertificateStanding =
  | { readonly status: 'good'; readonly notAfter: string }
  | {
      readonly status: 'revoked';
      readonly revokedAt: string;
      readonly reason: RevocationReason;
      /** When the certificate became invalid, where earlier than `revokedAt` (RevocationRow's). */
      readonly invalidSince?: string;
      /** What the responder records as published before it answers `revoked` (adapters/runtime/pki-published.ts). */
      readonly credentialId: string;
      readonly notAfter: string;
    }
  | {
      readonly status: 'unknown';
      /** Recorded under this CA id, but signed by another key than the one asked about (review 127). */
      readonly anotherKey?: true;
    };

/**
 * What the OCSP responder answers for (CA, serial): two primary-key lookups. With `issuerKeyId` (the CA's current key,
 * its subjectKeyIdentifier in lower-case hex), a certificate another key signed is `unknown`: this responder does not
 * know it under this issuer (RFC 6960 2.2), however its CA id reads (review 127: a CA made again under the same id
 * answered `good` for what its predecessor's key signed). A certificate whose key is not recorded is its CA id's.
 */
export const certificateStanding = (db: Database.Database, caId: string, serialNumber: string, issuerKeyId?: string): CertificateStanding => {
  const revoked = prepared(
    db,
    `SELECT r.revoked_at, r.reason, r.credential_id, r.not_after, r.invalid_since, c.issuer_key_id FROM pki_revocations r
      LEFT JOIN pki_certificates c ON c.credential_id = r.credential_id WHERE r.ca_id = ? AND r.serial = ?`,
  ).get(caId, serialNumber) as
    | { revoked_at: string; reason: string; credential_id: string; not_after: string; invalid_since: string | null; issuer_key_id: string | null }
    | undefined;
  if (revoked !== undefined) {
    if (!sameIssuingKey(revoked.issuer_key_id, issuerKeyId)) return { status: 'unknown', anotherKey: true };
    return {
      status: 'revoked',
      revokedAt: revoked.revoked_at,
      reason: revoked.reason as RevocationReason,
      ...(revoked.invalid_since !== null ? { invalidSince: revoked.invalid_since } : {}),
      credentialId: revoked.credential_id,
      notAfter: revoked.not_after,
    };
  }
  const issued = prepared(db, 'SELECT not_after, issuer_key_id FROM pki_certificates WHERE ca_id = ? AND serial = ? LIMIT 1').get(caId, serialNumber) as
    | { not_after: string; issuer_key_id: string | null }
    | undefined;
  if (issued === undefined) return { status: 'unknown' };
  return sameIssuingKey(issued.issuer_key_id, issuerKeyId) ? { status: 'good', notAfter: issued.not_after } : { status: 'unknown', anotherKey: true };
};

/**
 * The serials of `caId`'s revocations of certificates another key than `issuerKeyId` signed: what a CA made again
 * under the same id must not list, even where its published-revocations file (kept by CA id) holds them.
 */
export const revokedSerialsOfAnotherKey = (db: Database.Database, caId: string, issuerKeyId: string): Set<string> =>
  new Set(
    (
      prepared(
        db,
        `SELECT r.serial FROM pki_revocations r JOIN pki_certificates c ON c.credential_id = r.credential_id
          WHERE r.ca_id = ? AND c.issuer_key_id IS NOT NULL AND c.issuer_key_id <> ?`,
      ).all(caId, issuerKeyId) as { serial: string }[]
    ).map((r) => r.serial),
  );

const sameIssuingKey = (recorded: string | null, current: string | undefined): boolean => recorded === null || current === undefined || recorded === current;

/**
 * How many certificates of `caId` another key than `issuerKeyId` signed that are neither revoked nor past `now`: a
 * CA made again under the same id while credentials still hold its predecessor's certificates (review 127). Those
 * certificates are `unknown` to its OCSP responder and absent from its CRLs; the credentials are to be rotated. One
 * pass over the CA's certificates, at a start.
 */
export const certificatesOfAnotherKey = (db: Database.Database, caId: string, issuerKeyId: string, now: string): number =>
  Number(
    (
      prepared(
        db,
        `SELECT COUNT(*) AS n FROM pki_certificates c WHERE c.ca_id = ? AND c.not_after > ? AND c.issuer_key_id IS NOT NULL AND c.issuer_key_id <> ?
          AND NOT EXISTS (SELECT 1 FROM pki_revocations r WHERE r.ca_id = c.ca_id AND r.serial = c.serial)`,
      ).get(caId, now, issuerKeyId) as { n: number | bigint }
    ).n,
  );

/** Every revocation of a CA by serial, without `seq` (which a rebuild may renumber): what a rebuild is compared with. */
export const revocationContent = (db: Database.Database, caId: string): Omit<RevocationRow, 'seq'>[] =>
  revocationsAfter(db, caId, 0)
    .map(({ seq: _seq, ...rest }) => rest)
    .sort((a, b) => (a.serialNumber < b.serialNumber ? -1 : a.serialNumber > b.serialNumber ? 1 : 0));
