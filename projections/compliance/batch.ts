import type Database from 'better-sqlite3';
import type { DecodedEvent } from '../../domain/stored.ts';
import { parseStreamId } from '../../domain/streams.ts';
import { prepared } from '../runtime/index.ts';

/*
 * The compliance tables for a whole batch at once (`complianceProjection().beginBatch`): the rows each event of the
 * batch touches are read in one query per table, every event is applied in order to those rows in memory with
 * exactly the rules of `applyCompliance` (apply.ts: first insert wins, a status moves only forward by position, an
 * enrolment is replaced by a later one and removed by a later expiry, a provisioning names the enrolment its node
 * holds at that event), and each row is written once, many to a statement, where the batch left it. Event by event
 * that was a statement per write, two for most credentials and associations (inserted, then moved on): the rows
 * are the same (`test/compliance-batched-equal-event-by-event.test.ts`).
 */

type Position = bigint | number;

interface Enrolment {
  subscription_id: string;
  position: Position;
}

interface Credential {
  readonly credential_id: string;
  readonly owner_kind: string;
  readonly owner_id: string;
  readonly not_after: string;
  readonly not_after_ms: number | bigint;
  status: string;
  readonly issued_position: Position;
  status_position: Position;
}

interface Association {
  readonly association_id: string;
  readonly credential_id: string;
  readonly node_id: string;
  status: string;
  status_position: Position;
}

/** Rows per multi-row statement (SQLite allows 32,766 parameters; 8 columns x 32 stays far below). */
const ROWS_PER_STATEMENT = 32;

/** The rows `sql` finds whose key is one of `keys` (bound as one JSON array, read by `json_each`). */
const rowsIn = <R>(db: Database.Database, sql: string, keys: ReadonlySet<string>, numeric = false): R[] =>
  keys.size === 0 ? [] : (prepared(db, sql).all(numeric ? `[${[...keys].join(',')}]` : JSON.stringify([...keys])) as R[]);

/** Writes `rows` (arrays of `width` values) with `INSERT OR REPLACE INTO table (columns)`, 32 rows to a statement. */
const writeRows = (db: Database.Database, table: string, columns: readonly string[], rows: readonly unknown[][]): void => {
  if (rows.length === 0) return;
  const one = `(${columns.map(() => '?').join(', ')})`;
  const head = `INSERT OR REPLACE INTO ${table} (${columns.join(', ')}) VALUES `;
  const many = prepared(db, head + Array(ROWS_PER_STATEMENT).fill(one).join(', '));
  let i = 0;
  const values: unknown[] = [];
  for (; i + ROWS_PER_STATEMENT <= rows.length; i += ROWS_PER_STATEMENT) {
    values.length = 0;
    for (let k = i; k < i + ROWS_PER_STATEMENT; k++) for (const v of rows[k]!) values.push(v);
    // Spread: better-sqlite3 reads arguments faster than the elements of one array (projections/audit/tables.ts).
    many.run(...values);
  }
  const single = prepared(db, head + one);
  for (; i < rows.length; i++) single.run(...rows[i]!);
};

const CREDENTIAL_COLUMNS = ['credential_id', 'owner_kind', 'owner_id', 'not_after', 'not_after_ms', 'status', 'issued_position', 'status_position'] as const;
const ASSOCIATION_COLUMNS = ['association_id', 'credential_id', 'node_id', 'status', 'status_position'] as const;
const REVOCATION_COLUMNS = ['position', 'stream_id', 'kind', 'entity_id', 'reason', 'at', 'occurred_at', 'actor_id'] as const;
const PROVISIONED_COLUMNS = ['credential_id', 'subscription_id', 'node_id', 'method', 'position', 'enrolment_position', 'occurred_at'] as const;

/** What the batch reads before it applies anything: every key any of its events writes or reads. */
const keysOf = (events: readonly DecodedEvent[]) => {
  const nodes = new Set<string>();
  const credentials = new Set<string>();
  const associations = new Set<string>();
  const provisioned = new Set<string>();
  const revocations = new Set<string>();
  for (const { event, record } of events) {
    switch (event.type) {
      case 'NodeEnrolled':
      case 'NodeEnrolmentExpired':
        nodes.add(event.data.nodeId);
        break;
      case 'CredentialIssued':
        credentials.add(event.data.credentialId);
        if (event.data.owner.kind === 'node') nodes.add(event.data.owner.id);
        break;
      case 'CredentialProvisioned':
        credentials.add(event.data.credentialId);
        provisioned.add(event.data.credentialId);
        break;
      case 'CredentialExpired':
        credentials.add(event.data.credentialId);
        break;
      case 'CredentialRevoked':
        credentials.add(event.data.credentialId);
        revocations.add(String(record.position));
        break;
      case 'NodeRevoked':
      case 'ApplicationRevoked':
        revocations.add(String(record.position));
        break;
      case 'AssociationConfigured':
      case 'AssociationEstablished':
      case 'AssociationExpired':
        associations.add(event.data.associationId);
        break;
      case 'AssociationRevoked':
        associations.add(event.data.associationId);
        revocations.add(String(record.position));
        break;
      default:
        break;
    }
  }
  return { nodes, credentials, associations, provisioned, revocations };
};

/** The rows of the tables after applying `events` in order, as `applyCompliance` on each in turn leaves them. */
export const applyComplianceMany = (db: Database.Database, events: readonly DecodedEvent[]): void => {
  if (events.length === 0) return;
  const keys = keysOf(events);

  const credentials = new Map<string, Credential | undefined>();
  for (const row of rowsIn<Credential>(db, 'SELECT * FROM compliance_credentials WHERE credential_id IN (SELECT value FROM json_each(?))', keys.credentials)) {
    credentials.set(row.credential_id, row);
    // A credential issued in an earlier batch may be provisioned in this one: its node's enrolment is read too.
    if (row.owner_kind === 'node') keys.nodes.add(row.owner_id);
  }
  const enrolments = new Map<string, Enrolment | undefined>();
  for (const row of rowsIn<Enrolment & { node_id: string }>(
    db,
    'SELECT node_id, subscription_id, position FROM compliance_enrolments WHERE node_id IN (SELECT value FROM json_each(?))',
    keys.nodes,
  )) {
    enrolments.set(row.node_id, { subscription_id: row.subscription_id, position: row.position });
  }
  const associations = new Map<string, Association | undefined>();
  for (const row of rowsIn<Association>(db, 'SELECT * FROM compliance_associations WHERE association_id IN (SELECT value FROM json_each(?))', keys.associations)) {
    associations.set(row.association_id, row);
  }
  const provisionedBefore = new Set(
    rowsIn<{ credential_id: string }>(db, 'SELECT credential_id FROM compliance_provisioned WHERE credential_id IN (SELECT value FROM json_each(?))', keys.provisioned).map(
      (r) => r.credential_id,
    ),
  );
  const revokedBefore = new Set(
    rowsIn<{ position: Position }>(db, 'SELECT position FROM compliance_revocations WHERE position IN (SELECT value FROM json_each(?))', keys.revocations, true).map((r) =>
      String(r.position),
    ),
  );

  const changedEnrolments = new Set<string>();
  const changedCredentials = new Set<Credential>();
  const changedAssociations = new Set<Association>();
  const newRevocations: unknown[][] = [];
  const newProvisioned: unknown[][] = [];

  const setStatus = <R extends Credential | Association>(row: R | undefined, changed: Set<R>, status: string, position: bigint): void => {
    if (row !== undefined && row.status_position < position) {
      row.status = status;
      row.status_position = position;
      changed.add(row);
    }
  };
  const recordRevocation = (e: DecodedEvent, reason: string): void => {
    const key = String(e.record.position);
    const ref = parseStreamId(e.record.streamId)!;
    const row = [e.record.position, e.record.streamId, ref.kind, ref.id, reason, e.at, e.metadata.occurredAt, e.metadata.actor.id];
    if (revokedBefore.has(key)) return;
    revokedBefore.add(key);
    newRevocations.push(row);
  };

  for (const e of events) {
    const position = e.record.position;
    const { event } = e;
    switch (event.type) {
      case 'NodeEnrolled': {
        const { nodeId, subscriptionId } = event.data;
        const row = enrolments.get(nodeId);
        if (row === undefined) {
          enrolments.set(nodeId, { subscription_id: subscriptionId, position });
          changedEnrolments.add(nodeId);
        } else if (position > row.position) {
          row.subscription_id = subscriptionId;
          row.position = position;
          changedEnrolments.add(nodeId);
        }
        break;
      }
      case 'NodeEnrolmentExpired': {
        const row = enrolments.get(event.data.nodeId);
        if (row !== undefined && row.position < position) {
          enrolments.set(event.data.nodeId, undefined);
          changedEnrolments.add(event.data.nodeId);
        }
        break;
      }
      case 'NodeRevoked':
      case 'ApplicationRevoked':
        recordRevocation(e, event.data.reason);
        break;
      case 'CredentialRevoked':
        recordRevocation(e, event.data.reason);
        setStatus(credentials.get(event.data.credentialId), changedCredentials, 'revoked', position);
        break;
      case 'AssociationRevoked':
        recordRevocation(e, event.data.reason);
        setStatus(associations.get(event.data.associationId), changedAssociations, 'revoked', position);
        break;
      case 'CredentialIssued': {
        const { credentialId, owner, notAfter } = event.data;
        if (credentials.get(credentialId) !== undefined) break;
        const row: Credential = {
          credential_id: credentialId,
          owner_kind: owner.kind,
          owner_id: owner.id,
          not_after: notAfter,
          not_after_ms: Date.parse(notAfter),
          status: 'issued',
          issued_position: position,
          status_position: position,
        };
        credentials.set(credentialId, row);
        changedCredentials.add(row);
        break;
      }
      case 'CredentialProvisioned': {
        const { credentialId, method } = event.data;
        const credential = credentials.get(credentialId);
        setStatus(credential, changedCredentials, 'provisioned', position);
        if (provisionedBefore.has(credentialId) || credential === undefined || credential.owner_kind !== 'node') break;
        const enrolment = enrolments.get(credential.owner_id);
        if (enrolment === undefined) break;
        provisionedBefore.add(credentialId);
        newProvisioned.push([credentialId, enrolment.subscription_id, credential.owner_id, method, position, enrolment.position, e.metadata.occurredAt]);
        break;
      }
      case 'CredentialExpired':
        setStatus(credentials.get(event.data.credentialId), changedCredentials, 'expired', position);
        break;
      case 'AssociationConfigured': {
        const { associationId, credentialId, nodeId } = event.data;
        if (associations.get(associationId) !== undefined) break;
        const row: Association = { association_id: associationId, credential_id: credentialId, node_id: nodeId, status: 'configured', status_position: position };
        associations.set(associationId, row);
        changedAssociations.add(row);
        break;
      }
      case 'AssociationEstablished':
        setStatus(associations.get(event.data.associationId), changedAssociations, 'established', position);
        break;
      case 'AssociationExpired':
        setStatus(associations.get(event.data.associationId), changedAssociations, 'expired', position);
        break;
      default:
        break;
    }
  }

  const removed: string[] = [];
  const enrolmentRows: unknown[][] = [];
  for (const nodeId of changedEnrolments) {
    const row = enrolments.get(nodeId);
    if (row === undefined) removed.push(nodeId);
    else enrolmentRows.push([nodeId, row.subscription_id, row.position]);
  }
  if (removed.length > 0) prepared(db, 'DELETE FROM compliance_enrolments WHERE node_id IN (SELECT value FROM json_each(?))').run(JSON.stringify(removed));
  writeRows(db, 'compliance_enrolments', ['node_id', 'subscription_id', 'position'], enrolmentRows);
  writeRows(db, 'compliance_credentials', CREDENTIAL_COLUMNS, [...changedCredentials].map((r) => CREDENTIAL_COLUMNS.map((c) => r[c])));
  writeRows(db, 'compliance_associations', ASSOCIATION_COLUMNS, [...changedAssociations].map((r) => ASSOCIATION_COLUMNS.map((c) => r[c])));
  writeRows(db, 'compliance_revocations', REVOCATION_COLUMNS, newRevocations);
  writeRows(db, 'compliance_provisioned', PROVISIONED_COLUMNS, newProvisioned);
};
