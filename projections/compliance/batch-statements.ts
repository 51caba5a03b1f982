/**
 * The compliance batch's SQL (batch.ts): a read of each table by the keys a batch touches, in one query per table,
 * and the inserts that write the rows it leaves, many to a statement. The rules of what is read and written are the
 * batch's; these only say how.
 */
import type Database from 'better-sqlite3';
import { prepared } from '../runtime/index.ts';

/**
 * A read of one table by key: one key (an event applied live, on its own) by `= ?`, more bound as one JSON array read
 * by `json_each`, so a batch reads each table in one query.
 */
export interface Lookup {
  readonly one: string;
  readonly many: string;
}

const lookup = (select: string, key: string): Lookup => ({
  one: `${select} WHERE ${key} = ?`,
  many: `${select} WHERE ${key} IN (SELECT value FROM json_each(?))`,
});

export const rowsIn = <R>(db: Database.Database, read: Lookup, keys: ReadonlySet<string>): R[] => {
  if (keys.size === 0) return [];
  if (keys.size === 1) {
    const [only] = keys as unknown as [string];
    return prepared(db, read.one).all(only) as R[];
  }
  return prepared(db, read.many).all(JSON.stringify([...keys])) as R[];
};

export const READ_CREDENTIALS = lookup('SELECT * FROM compliance_credentials', 'credential_id');
export const READ_ENROLMENTS = lookup('SELECT node_id, subscription_id, position FROM compliance_enrolments', 'node_id');
export const READ_ASSOCIATIONS = lookup('SELECT * FROM compliance_associations', 'association_id');
// Read by id (the key's first column); the batch checks the kind, keying them by both in memory (`cse\n/meter-1-cse`).
export const READ_IDENTIFIERS = lookup('SELECT kind, id, node_id, position FROM compliance_identifiers', 'id');

/** An insert into one table: its statement for one row and for 32 (SQLite allows 32,766 parameters). */
export interface RowWriter {
  readonly one: string;
  readonly many: string;
}

const ROWS_PER_STATEMENT = 32;

export const rowWriter = (conflict: 'REPLACE' | 'IGNORE', table: string, columns: readonly string[]): RowWriter => {
  const row = `(${columns.map(() => '?').join(', ')})`;
  const head = `INSERT OR ${conflict} INTO ${table} (${columns.join(', ')}) VALUES `;
  return { one: head + row, many: head + Array(ROWS_PER_STATEMENT).fill(row).join(', ') };
};

/** Writes `rows` (arrays of the writer's columns' values), 32 rows to a statement. */
export const writeRows = (db: Database.Database, writer: RowWriter, rows: readonly unknown[][]): void => {
  if (rows.length === 0) return;
  let i = 0;
  if (rows.length >= ROWS_PER_STATEMENT) {
    const many = prepared(db, writer.many);
    const values: unknown[] = [];
    for (; i + ROWS_PER_STATEMENT <= rows.length; i += ROWS_PER_STATEMENT) {
      values.length = 0;
      for (let k = i; k < i + ROWS_PER_STATEMENT; k++) for (const v of rows[k]!) values.push(v);
      // Spread: better-sqlite3 reads arguments faster than the elements of one array (projections/audit/tables.ts).
      many.run(...values);
    }
  }
  const single = prepared(db, writer.one);
  for (; i < rows.length; i++) single.run(...rows[i]!);
};

export const CREDENTIAL_COLUMNS = ['credential_id', 'owner_kind', 'owner_id', 'owner_node_id', 'owner_app_id', 'not_after', 'not_after_ms', 'status', 'issued_position', 'status_position'] as const;
// app_id and ae_id: an AE Registree's App-ID and AE-ID (null for a CSE's), named `app-ae` at establishment (review 49).
export const ASSOCIATION_COLUMNS = ['association_id', 'credential_id', 'node_id', 'status', 'status_position', 'app_id', 'ae_id'] as const;
// at and occurred_at: when the revocation occurred, as the pki read model dates it (review 197); recorded_at: when it
// was recorded, where that is later (NULL where it is the same); recorded_ms: when it was recorded, epoch ms, always.
export const REVOCATION_COLUMNS = ['position', 'stream_id', 'kind', 'entity_id', 'reason', 'at', 'occurred_at', 'actor_id', 'recorded_at', 'recorded_ms'] as const;
// listed_position: the event whose handling wrote the row, which the `provisioned` query pages by (review 101).
export const PROVISIONED_COLUMNS = ['credential_id', 'subscription_id', 'node_id', 'method', 'position', 'enrolment_position', 'occurred_at', 'listed_position'] as const;
// Rows the batch read and moved on are replaced; rows it added without reading keep what is stored (first insert wins).
export const ENROLMENTS = rowWriter('REPLACE', 'compliance_enrolments', ['node_id', 'subscription_id', 'position']);
export const CREDENTIALS = rowWriter('REPLACE', 'compliance_credentials', CREDENTIAL_COLUMNS);
export const ASSOCIATIONS = rowWriter('REPLACE', 'compliance_associations', ASSOCIATION_COLUMNS);
export const NEW_CREDENTIALS = rowWriter('IGNORE', 'compliance_credentials', CREDENTIAL_COLUMNS);
export const NEW_ASSOCIATIONS = rowWriter('IGNORE', 'compliance_associations', ASSOCIATION_COLUMNS);
export const REVOCATIONS = rowWriter('IGNORE', 'compliance_revocations', REVOCATION_COLUMNS);
export const PROVISIONED = rowWriter('IGNORE', 'compliance_provisioned', PROVISIONED_COLUMNS);
// A parent's ending and an association's configuration, each recorded once, at its position (review 249: what
// dangling-associations reads besides the credential's status).
export const ENDINGS = rowWriter('IGNORE', 'compliance_endings', ['kind', 'id', 'position', 'event']);
export const CONFIGURATIONS = rowWriter('IGNORE', 'compliance_association_configurations', ['association_id', 'position']);
// A change of enrolment is recorded once, at its position; the batch records only changes it made (batch-changes.ts).
export const ENROLMENT_HISTORY = rowWriter('IGNORE', 'compliance_enrolment_history', ['node_id', 'position', 'subscription_id']);
/** The enrolment change in force at a position: the latest before it (a provisioning is never its node's enrolment). */
export const ENROLMENT_IN_FORCE = 'SELECT position, subscription_id FROM compliance_enrolment_history WHERE node_id = ? AND position < ? ORDER BY position DESC LIMIT 1';
/**
 * Namings of identifiers are written without reading the stored ones first (a batch reads only those its provisionings
 * look up): the later naming by position wins in the statement itself, as a late or repeated delivery must not undo one.
 */
export const IDENTIFIERS: RowWriter = (() => {
  const head = 'INSERT INTO compliance_identifiers (kind, id, node_id, position) VALUES ';
  const tail = ' ON CONFLICT(id, kind) DO UPDATE SET node_id = excluded.node_id, position = excluded.position WHERE excluded.position > compliance_identifiers.position';
  return { one: `${head}(?, ?, ?, ?)${tail}`, many: `${head}${Array(ROWS_PER_STATEMENT).fill('(?, ?, ?, ?)').join(', ')}${tail}` };
})();
