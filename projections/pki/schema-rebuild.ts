import type Database from 'better-sqlite3';
import { prepared } from '../runtime/index.ts';
import { recordSchemaVersion, storedSchemaVersion, type SchemaChange } from '../runtime/schema-version.ts';

/** The projection the `pki` tables belong to: its checkpoint says how far they reach, its row which version wrote them. */
export const PKI_PROJECTION = 'pki';

/**
 * The meanings of the `pki` tables, in the order they came. This is version 9, kept in projection_schemas as
 * ensureSchemaVersion keeps the other read models' (review 411): a folder whose row is missing or names another version
 * is rebuilt. A folder without the row was written before it was kept (or an earlier Credence ran it since, below):
 * the version that wrote it is told by what its tables lack, that of its earliest missing marker (below), or 9 when
 * nothing is missing. Version 1 kept one row per serial; 2 lacked the issuing key (review 127); 3 the rotations (171);
 * 4 the lapses (191); 5 the invalidity dates (203); 6 the holders (306); 7 the expired and moved enrolments (397); 8
 * the App-ID instances and CSE-ID renumberings (402).
 */
const PKI_TABLES_VERSION = 9;

/**
 * Review 411: a Credence earlier than the row knows nothing of it, and would leave it saying 9 over what it passed
 * over (NodeEnrolled, associations, CSE-IDs): upgraded again, nothing would be rebuilt. So each batch of this version
 * marks itself (`markPkiBatch`), and a `pki` checkpoint written by a batch that did not (another version's) deletes
 * the row: the next open by this version (or a later one) rebuilds. The triggers touch projection_schemas alone, which
 * every version since review 51 has, so an earlier version's batch does not fail on them.
 */
export const PKI_OTHER_VERSION_TRIGGERS = ['INSERT', 'UPDATE OF position']
  .map(
    (on, i) => `CREATE TRIGGER IF NOT EXISTS pki_checkpoint_of_another_version_${i + 1} AFTER ${on} ON projection_checkpoints WHEN NEW.name = '${PKI_PROJECTION}'
    BEGIN
      DELETE FROM projection_schemas WHERE name = '${PKI_PROJECTION}' AND NOT EXISTS (SELECT 1 FROM projection_schemas WHERE name = '${PKI_PROJECTION}:batch');
      DELETE FROM projection_schemas WHERE name = '${PKI_PROJECTION}:batch';
    END`,
  )
  .join(';\n');

/** In a batch of this version, before its checkpoint is written: that checkpoint is this version's (above). */
export const markPkiBatch = (db: Database.Database): void => recordSchemaVersion(db, `${PKI_PROJECTION}:batch`, PKI_TABLES_VERSION);

/**
 * What an open of the `pki` tables finds of the version that wrote them, read before it makes or alters any: whether
 * they are rebuilt from the log, the columns an earlier version lacked (added before they are emptied), and the
 * rebuild said at the start (`change`, with the version that wrote them).
 */
export interface PkiSchemaFinding {
  readonly rebuild: boolean;
  readonly withoutIssuingKey: boolean;
  readonly withoutInvalidSince: boolean;
  /** The version its projection_schemas row names, undefined when it has none. */
  readonly row: number | undefined;
  readonly change: SchemaChange | undefined;
}

export const findPkiSchema = (db: Database.Database): PkiSchemaFinding => {
  // A folder without the tables is new: nothing to rebuild, whatever its row says.
  const existed = hasTable(db, 'pki_certificates');
  const row = storedSchemaVersion(db, PKI_PROJECTION);
  // Tables written before a certificate could be each of several credentials' (one row per serial, a second
  // credential's dropped): rebuilt from the log, the signers waiting until they reach where these had got to, so a
  // revocation of a credential whose row was dropped reaches the CRLs and OCSP (found in review of that change).
  const oneRowPerSerial = prepared(db, "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'pki_certificates_serial'").get() !== undefined;
  // Tables written before the issuing key was recorded (review 127): their rows say which CA id, not which key, so a
  // CA made again under the same id answered for its predecessor's certificates. Rebuilt from the log as above.
  const columns = prepared(db, "SELECT name FROM pragma_table_info('pki_certificates')").all() as { name: string }[];
  const withoutIssuingKey = columns.length > 0 && !columns.some((c) => c.name === 'issuer_key_id');
  // Revocations recorded before the rotations under way were kept (review 171): those as superseded are dated when the
  // scheduler recorded them, not at the end of the overlap. Rebuilt from the log as above; what a CRL already listed
  // keeps its first publication's date (adapters/runtime/pki-crl-listing.ts).
  const withoutRotations = hasTable(db, 'pki_revocations') && !hasTable(db, 'pki_rotations');
  // Revocations recorded before the subscriptions' notAfter was kept (review 191): those of a node whose enrolment lapsed
  // during a downtime are dated at the restart, not at the notAfter. Rebuilt from the log as above, likewise.
  const withoutLapses = hasTable(db, 'pki_revocations') && !hasTable(db, 'pki_subscriptions');
  // Revocations recorded before the invalidity dates were kept (review 203): a handover or a lapse recorded late is
  // back-dated in revocationDate, not dated at its recording with an invalidityDate (RFC 5280 5.3.2). Rebuilt from the
  // log as above, likewise: what a CRL already listed keeps its first publication as it was.
  const revocationColumns = prepared(db, "SELECT name FROM pragma_table_info('pki_revocations')").all() as { name: string }[];
  const withoutInvalidSince = revocationColumns.length > 0 && !revocationColumns.some((c) => c.name === 'invalid_since');
  // Tables written before the certificates' holders and their endings were kept (review 306): a node, App-ID or
  // bootstrap ended before has no row, and OCSP would answer `good` for its certificates until the cascade's revocation.
  // Rebuilt from the log as above: the read model's schema version, as pki keeps it (its rebuild floor kept).
  const withoutHolders = hasTable(db, 'pki_certificates') && !hasTable(db, 'pki_owed');
  // Tables written before a node's expired enrolment ended its holder and before its move to another subscription made
  // what the left one's CA certified owed (review 397): OCSP answered `good` for those until the cascade's revocation.
  // Rebuilt from the log as above, once: the moves' tables (subscription-moves.ts) are the marker of the new meaning.
  const withoutMoves = hasTable(db, 'pki_certificates') && !hasTable(db, 'pki_node_enrolments');
  // Tables written before an App-ID instance's certificates followed the nodes it is established on, and before a
  // node's CSE-ID was kept (review 402): OCSP answered `good` for those a move, an expiry, a node's revocation or a
  // renumbering ends until the cascade's revocation. Rebuilt from the log as above, once more: the instances' tables
  // (instance-holders.ts) and pki_node_enrolments' CSE-ID are the markers of the new meaning.
  const enrolmentsWithoutCseId = hasTable(db, 'pki_node_enrolments') && !hasColumn(db, 'pki_node_enrolments', 'cse_id');
  const withoutInstances = hasTable(db, 'pki_certificates') && (!hasTable(db, 'pki_instance_nodes') || enrolmentsWithoutCseId);
  const markers = [oneRowPerSerial, withoutIssuingKey, withoutRotations, withoutLapses, withoutInvalidSince, withoutHolders, withoutMoves, withoutInstances];
  const rebuild = markers.includes(true) || (existed && row !== PKI_TABLES_VERSION);
  if (!rebuild) return { rebuild, withoutIssuingKey, withoutInvalidSince, row, change: undefined };
  const stored = row ?? (markers.includes(true) ? markers.indexOf(true) + 1 : PKI_TABLES_VERSION);
  return { rebuild, withoutIssuingKey, withoutInvalidSince, row, change: { name: PKI_PROJECTION, stored, version: PKI_TABLES_VERSION } };
};

/** This version's projection_schemas row, written unless the tables' row says it already. */
export const recordPkiSchemaVersion = (db: Database.Database, finding: PkiSchemaFinding): void => {
  if (finding.row !== PKI_TABLES_VERSION) recordSchemaVersion(db, PKI_PROJECTION, PKI_TABLES_VERSION);
};

const hasTable = (db: Database.Database, name: string): boolean =>
  prepared(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;

const hasColumn = (db: Database.Database, table: string, column: string): boolean =>
  prepared(db, 'SELECT 1 FROM pragma_table_info(?) WHERE name = ?').get(table, column) !== undefined;
