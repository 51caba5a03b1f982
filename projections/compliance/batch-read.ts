import type Database from 'better-sqlite3';
import { READ_ASSOCIATIONS, READ_CREDENTIALS, READ_ENROLMENTS, READ_IDENTIFIERS, rowsIn } from './batch-statements.ts';
import type { BatchKeys } from './batch-keys.ts';
import type { Association, Credential, Enrolment, Identifier } from './batch-rows.ts';
import { appAeId, identifierKey, identifierOfOwner, idOfKey } from './identifier-keys.ts';
import { pendingProvisionings } from './pending.ts';
import { revocationDates } from './revocation-dates.ts';
import { subscriptionRows } from './subscriptions.ts';

/**
 * Reads the rows the batch's events touch (`keys`, batch-keys.ts), one query per table, each read adding the keys the
 * rows it found make the batch look up next: in this order, as a table read later depends on those read before.
 */
export const readBatch = (db: Database.Database, keys: BatchKeys) => {
  const credentials = new Map<string, Credential | undefined>();
  for (const row of rowsIn<Credential>(db, READ_CREDENTIALS, keys.credentials)) {
    credentials.set(row.credential_id, row);
    // A credential issued in an earlier batch may be provisioned in this one: its node's enrolment is read too.
    if (!keys.provisioned.has(row.credential_id)) continue;
    if (row.owner_kind === 'node') keys.nodes.add(row.owner_id);
    else if (row.owner_node_id !== null) keys.nodes.add(row.owner_node_id);
    else {
      const identifier = identifierOfOwner(row.owner_kind, row.owner_id, row.owner_app_id);
      if (identifier !== undefined) keys.identifiers.add(identifier);
    }
  }
  const associations = new Map<string, Association | undefined>();
  for (const row of rowsIn<Association>(db, READ_ASSOCIATIONS, keys.associations)) {
    associations.set(row.association_id, row);
    // Established in this batch, an AE's association names its instance (review 49) at its node.
    if (!keys.established.has(row.association_id) || row.app_id === null || row.ae_id === null) continue;
    keys.named.add(identifierKey('app-ae', appAeId(row.app_id, row.ae_id)));
    keys.associationNodes.add(row.node_id);
  }
  // Only what this batch's provisionings look up: the identifiers their credentials were issued to, and the nodes an
  // enrolment or association of the batch may name for them.
  const identifiers = new Map<string, Identifier>();
  if (keys.identifiers.size > 0) {
    for (const row of rowsIn<Identifier & { kind: string; id: string }>(db, READ_IDENTIFIERS, new Set([...keys.identifiers].map(idOfKey)))) {
      const key = identifierKey(row.kind, row.id);
      if (!keys.identifiers.has(key)) continue;
      identifiers.set(key, { node_id: row.node_id, position: row.position });
      keys.nodes.add(row.node_id);
    }
    for (const node of keys.associationNodes) keys.nodes.add(node);
  }
  // A provisioning waiting for an identifier the batch names is recorded under the enrolment the node named held at
  // the provisioning, read from its history when it is settled (batch-changes.ts), not from the enrolments here.
  const pending = pendingProvisionings(db, keys.named);
  if (keys.provisioned.size > 0) for (const node of keys.associationNodes) keys.nodes.add(node);
  const enrolments = new Map<string, Enrolment | undefined>();
  for (const row of rowsIn<Enrolment & { node_id: string }>(db, READ_ENROLMENTS, keys.nodes)) {
    enrolments.set(row.node_id, { subscription_id: row.subscription_id, position: row.position });
  }
  // Read when first asked for: which ones a held-back provisioning needs is known only as it is settled.
  const subscriptions = subscriptionRows(db);
  // Read when first asked for, as the subscriptions: only revocations, rotations and enrolment ends look at them.
  const dates = revocationDates(db);
  return { credentials, associations, identifiers, enrolments, pending, subscriptions, dates };
};

export type BatchRows = ReturnType<typeof readBatch>;
