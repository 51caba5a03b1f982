import type Database from 'better-sqlite3';
import { prepared } from '../runtime/index.ts';
import {
  ASSOCIATION_COLUMNS,
  ASSOCIATIONS,
  CONFIGURATIONS,
  CREDENTIAL_COLUMNS,
  CREDENTIALS,
  ENDINGS,
  ENROLMENT_HISTORY,
  ENROLMENTS,
  IDENTIFIERS,
  NEW_ASSOCIATIONS,
  NEW_CREDENTIALS,
  PROVISIONED,
  REVOCATIONS,
  writeRows,
  type RowWriter,
} from './batch-statements.ts';
import type { BatchChanges } from './batch-changes.ts';
import type { BatchRows } from './batch-read.ts';
import type { Association, Credential } from './batch-rows.ts';
import { idOfKey } from './identifier-keys.ts';

/** Writes each row the batch changed once, where its events left it, many to a statement (batch-statements.ts). */
export const writeBatch = (
  db: Database.Database,
  { enrolments, identifiers, pending, subscriptions, dates }: BatchRows,
  { changedEnrolments, changedIdentifiers, changedCredentials, created, changedAssociations, newRevocations, newProvisioned, newEnrolmentChanges, newEndings, newConfigurations }: BatchChanges,
): void => {
  const removed: string[] = [];
  const enrolmentRows: unknown[][] = [];
  for (const nodeId of changedEnrolments) {
    const row = enrolments.get(nodeId);
    if (row === undefined) removed.push(nodeId);
    else enrolmentRows.push([nodeId, row.subscription_id, row.position]);
  }
  if (removed.length > 0) prepared(db, 'DELETE FROM compliance_enrolments WHERE node_id IN (SELECT value FROM json_each(?))').run(JSON.stringify(removed));
  writeRows(db, ENROLMENTS, enrolmentRows);
  writeRows(db, ENROLMENT_HISTORY, newEnrolmentChanges);
  const write = <R extends Credential | Association>(rows: Set<R>, columns: readonly (keyof R)[], replace: RowWriter, insert: RowWriter): void => {
    const replaced: unknown[][] = [];
    const inserted: unknown[][] = [];
    for (const r of rows) (created.has(r) ? inserted : replaced).push(columns.map((c) => r[c]));
    writeRows(db, replace, replaced);
    writeRows(db, insert, inserted);
  };
  write(changedCredentials, CREDENTIAL_COLUMNS, CREDENTIALS, NEW_CREDENTIALS);
  write(changedAssociations, ASSOCIATION_COLUMNS, ASSOCIATIONS, NEW_ASSOCIATIONS);
  writeRows(db, REVOCATIONS, newRevocations);
  writeRows(db, PROVISIONED, newProvisioned);
  writeRows(db, ENDINGS, newEndings);
  writeRows(db, CONFIGURATIONS, newConfigurations);
  pending.flush();
  subscriptions.flush();
  dates.flush();
  const identifierRows: unknown[][] = [];
  for (const key of changedIdentifiers) {
    const { node_id, position } = identifiers.get(key)!;
    identifierRows.push([key.slice(0, key.indexOf('\n')), idOfKey(key), node_id, position]);
  }
  writeRows(db, IDENTIFIERS, identifierRows);
};
