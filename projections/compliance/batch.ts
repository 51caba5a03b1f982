import type Database from 'better-sqlite3';
import type { DecodedEvent } from '../../domain/stored.ts';
import { parseStreamId } from '../../domain/streams.ts';
import { prepared } from '../runtime/index.ts';
import {
  ASSOCIATION_COLUMNS,
  ASSOCIATIONS,
  CREDENTIAL_COLUMNS,
  CREDENTIALS,
  ENROLMENTS,
  IDENTIFIERS,
  NEW_ASSOCIATIONS,
  NEW_CREDENTIALS,
  PROVISIONED,
  READ_ASSOCIATIONS,
  READ_CREDENTIALS,
  READ_ENROLMENTS,
  READ_IDENTIFIERS,
  REVOCATIONS,
  rowsIn,
  writeRows,
  type RowWriter,
} from './batch-statements.ts';
import { appAeId, identifierKey, identifierOfOwner, idOfKey } from './identifier-keys.ts';
import { pendingProvisionings } from './pending.ts';

/*
 * The compliance read model's rules, their one definition (SER-023 revocation records, RS-17 change of
 * subscription): first insert wins; a status moves only forward by position, so an event delivered twice, or late,
 * changes nothing; an enrolment is replaced by a later one and removed by a later expiry; a provisioning names the
 * enrolment its node holds at that very event, in global order; a revocation is recorded once, by position. A
 * credential issued to a CSE-ID or AE-ID is its node's: the node the latest enrolment (CSE-ID) or association
 * configuration (its Registree) names the identifier for, by position, at the provisioning; one issued to a CSE-ID
 * that names its node (review 41) is that node's (`owner_node_id`, review 44); one issued to an AE-ID that names its
 * App-ID (review 41) is the node's that App-ID's instance under that AE-ID runs on (`app-ae`, `owner_app_id`), never
 * the node of another App-ID's use of the same AE-ID (RS-01; the cascade keys it alike, projections/cascade): the node
 * of the latest association of the instance established, never one only configured (review 49: a typo's node). One
 * provisioned before any event named its identifier (issue, provision, then the AE's first association: the usual
 * pre-provisioning order) waits for the first event that does, and is recorded then under that node's enrolment at that
 * event, with the provisioning's own position; ended (revoked, expired) before, it is not (review 48, pending.ts).
 *
 * `applyComplianceMany` applies the events of a batch (`complianceProjection().beginBatch`) or one event live (a
 * batch of one): the rows the events touch are read in one query per table, the events applied in order to those
 * rows in memory, and each row written once, many to a statement, where the events left it. Rows only ever added
 * (revocations, provisionings) are not read first: `INSERT OR IGNORE` keeps the stored one. An independent statement
 * of the same rules as SQL, event by event, is the reference the tables are compared with
 * (test/support/compliance-by-statement.ts, test/compliance-batched-equal-event-by-event.test.ts).
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
  /** The node a `cse` owner names as holding its CSE-ID (review 44); null for any other and for one stored before. */
  readonly owner_node_id: string | null;
  /** The App-ID an `ae` owner names as the one its AE is an instance of (review 41); null for any other and for one stored before. */
  readonly owner_app_id: string | null;
  readonly not_after: string;
  readonly not_after_ms: number | bigint;
  status: string;
  readonly issued_position: Position;
  status_position: Position;
}

interface Identifier {
  node_id: string;
  position: Position;
}

interface Association {
  readonly association_id: string;
  readonly credential_id: string;
  readonly node_id: string;
  status: string;
  status_position: Position;
  /** An AE Registree's App-ID and AE-ID (null for a CSE's): its establishment names the `app-ae` identifier. */
  readonly app_id: string | null;
  readonly ae_id: string | null;
}

/**
 * What the batch reads before it applies anything: the rows any of its events moves on, and the enrolments of the
 * nodes owning a credential it provisions (those issued in the batch here, those stored once they are read). A
 * credential or association the batch only inserts is not read: nothing in the batch looks at it, and
 * `INSERT OR IGNORE` keeps a stored one (first insert wins).
 */
const keysOf = (events: readonly DecodedEvent[]) => {
  const nodes = new Set<string>();
  const credentials = new Set<string>();
  const associations = new Set<string>();
  const provisioned = new Set<string>();
  const identifiers = new Set<string>();
  const associationNodes = new Set<string>();
  // The identifiers the batch's events name: provisionings waiting for them are read (pending.ts).
  const named = new Set<string>();
  // Established: their App-ID's instance (`app-ae`) is named at the node they name, read with the association.
  const established = new Set<string>();
  for (const { event } of events) {
    switch (event.type) {
      case 'NodeEnrolled':
        nodes.add(event.data.nodeId);
        named.add(identifierKey('cse', event.data.cseId));
        break;
      case 'NodeEnrolmentExpired':
      case 'NodeRevoked':
        nodes.add(event.data.nodeId);
        break;
      case 'AssociationConfigured':
        // The node it names may be the one a credential issued to its Registree, provisioned later in the batch,
        // counts under: its enrolment is read when the batch provisions such a credential.
        associationNodes.add(event.data.nodeId);
        named.add(identifierKey(event.data.registree.kind, event.data.registree.id));
        if (event.data.registree.kind === 'ae') named.add(identifierKey('app-ae', appAeId(event.data.registree.appId, event.data.registree.id)));
        break;
      case 'CredentialProvisioned':
        provisioned.add(event.data.credentialId);
        credentials.add(event.data.credentialId);
        break;
      case 'CredentialExpired':
      case 'CredentialRevoked':
        credentials.add(event.data.credentialId);
        break;
      case 'AssociationEstablished':
        established.add(event.data.associationId);
        associations.add(event.data.associationId);
        break;
      case 'AssociationExpired':
      case 'AssociationRevoked':
        associations.add(event.data.associationId);
        break;
      default:
        break;
    }
  }
  if (provisioned.size > 0) {
    for (const { event } of events) {
      if (event.type !== 'CredentialIssued' || !provisioned.has(event.data.credentialId)) continue;
      const { owner } = event.data;
      if (owner.kind === 'node') nodes.add(owner.id);
      else if (owner.kind === 'cse' && owner.nodeId !== undefined) nodes.add(owner.nodeId);
      else {
        const identifier = identifierOfOwner(owner.kind, owner.id, owner.appId);
        if (identifier !== undefined) identifiers.add(identifier);
      }
    }
  }
  return { nodes, credentials, associations, provisioned, identifiers, associationNodes, named, established };
};

/** Applies `events`, in order, to the compliance tables: see the rules above. */
export const applyComplianceMany = (db: Database.Database, events: readonly DecodedEvent[]): void => {
  if (events.length === 0) return;
  const keys = keysOf(events);

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
  // A provisioning waiting for an identifier the batch names is recorded under the enrolment of the node named.
  const pending = pendingProvisionings(db, keys.named);
  if (pending.stored || keys.provisioned.size > 0) for (const node of keys.associationNodes) keys.nodes.add(node);
  const enrolments = new Map<string, Enrolment | undefined>();
  for (const row of rowsIn<Enrolment & { node_id: string }>(db, READ_ENROLMENTS, keys.nodes)) {
    enrolments.set(row.node_id, { subscription_id: row.subscription_id, position: row.position });
  }
  // Only this batch's own: a provisioning or revocation stored before is kept by `INSERT OR IGNORE`.
  const provisionedHere = new Set<string>();
  const revokedHere = new Set<Position>();
  const changedEnrolments = new Set<string>();
  const changedIdentifiers = new Set<string>();
  /** The identifier names `nodeId` from `position` on, unless a later naming is already known (forward only). */
  const nameIdentifier = (kind: string, id: string, nodeId: string, position: bigint): void => {
    const key = identifierKey(kind, id);
    const row = identifiers.get(key);
    if (row !== undefined && row.position >= position) return;
    identifiers.set(key, { node_id: nodeId, position });
    changedIdentifiers.add(key);
  };
  const changedCredentials = new Set<Credential>();
  // Created by this batch: written by `INSERT OR IGNORE`, as a row stored before (not read, when nothing in the
  // batch looks at it) wins. Rows read and moved on are replaced.
  const created = new Set<Credential | Association>();
  const changedAssociations = new Set<Association>();
  const newRevocations: unknown[][] = [];
  const newProvisioned: unknown[][] = [];
  /** The identifier (a key) is named for `nodeId`: the provisionings waiting for it count under its enrolment now. */
  const namedNow = (key: string, nodeId: string): void => {
    for (const waiting of pending.take(key)) {
      const enrolment = enrolments.get(nodeId);
      if (enrolment === undefined || provisionedHere.has(waiting.credential_id)) continue;
      provisionedHere.add(waiting.credential_id);
      newProvisioned.push([waiting.credential_id, enrolment.subscription_id, nodeId, waiting.method, waiting.position, enrolment.position, waiting.occurred_at]);
    }
  };

  const setStatus = <R extends Credential | Association>(row: R | undefined, changed: Set<R>, status: string, position: bigint): void => {
    if (row !== undefined && row.status_position < position) {
      row.status = status;
      row.status_position = position;
      changed.add(row);
    }
  };
  const recordRevocation = (e: DecodedEvent, reason: string): void => {
    const { position, streamId } = e.record;
    if (revokedHere.has(position)) return;
    revokedHere.add(position);
    const ref = parseStreamId(streamId)!;
    newRevocations.push([position, streamId, ref.kind, ref.id, reason, e.at, e.metadata.occurredAt, e.metadata.actor.id]);
  };

  for (const e of events) {
    const position = e.record.position;
    const { event } = e;
    switch (event.type) {
      case 'NodeEnrolled': {
        const { nodeId, subscriptionId, cseId } = event.data;
        nameIdentifier('cse', cseId, nodeId, position);
        const row = enrolments.get(nodeId);
        if (row === undefined) {
          enrolments.set(nodeId, { subscription_id: subscriptionId, position });
          changedEnrolments.add(nodeId);
        } else if (position > row.position) {
          row.subscription_id = subscriptionId;
          row.position = position;
          changedEnrolments.add(nodeId);
        }
        namedNow(identifierKey('cse', cseId), nodeId);
        break;
      }
      case 'NodeEnrolmentExpired':
      case 'NodeRevoked': {
        // A revoked node is enrolled under no subscription any more: nothing provisioned after it counts as under it.
        const row = enrolments.get(event.data.nodeId);
        if (row !== undefined && row.position < position) {
          enrolments.set(event.data.nodeId, undefined);
          changedEnrolments.add(event.data.nodeId);
        }
        if (event.type === 'NodeRevoked') recordRevocation(e, event.data.reason);
        break;
      }
      case 'ApplicationRevoked':
        recordRevocation(e, event.data.reason);
        break;
      case 'CredentialRevoked':
        recordRevocation(e, event.data.reason);
        setStatus(credentials.get(event.data.credentialId), changedCredentials, 'revoked', position);
        pending.end(event.data.credentialId);
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
          owner_node_id: owner.kind === 'cse' ? (owner.nodeId ?? null) : null,
          owner_app_id: owner.kind === 'ae' ? (owner.appId ?? null) : null,
          not_after: notAfter,
          not_after_ms: Date.parse(notAfter),
          status: 'issued',
          issued_position: position,
          status_position: position,
        };
        credentials.set(credentialId, row);
        changedCredentials.add(row);
        created.add(row);
        break;
      }
      case 'CredentialProvisioned': {
        const { credentialId, method } = event.data;
        const credential = credentials.get(credentialId);
        setStatus(credential, changedCredentials, 'provisioned', position);
        if (provisionedHere.has(credentialId) || credential === undefined) break;
        const { owner_kind: kind, owner_id: ownerId, owner_node_id: ownerNodeId, owner_app_id: ownerAppId } = credential;
        // A CSE-ID's credential that names its node counts under that node's enrolment, never under the identifier's
        // holder at the provisioning (review 44: renumbered, the node left it to another). An AE-ID's that names its
        // App-ID counts under the node of that App-ID's instance under the AE-ID (`app-ae`), never of another App-ID's
        // use of the AE-ID. One stored before follows the identifier, as it did.
        const identifier = identifierOfOwner(kind, ownerId, ownerAppId);
        const nodeId = kind === 'node' ? ownerId : ownerNodeId !== null ? ownerNodeId : identifier !== undefined ? identifiers.get(identifier)?.node_id : undefined;
        const enrolment = nodeId === undefined ? undefined : enrolments.get(nodeId);
        // No event has named its identifier yet: it waits for the first that does (review 48).
        if (nodeId === undefined && identifier !== undefined) {
          pending.add({ credential_id: credentialId, kind: identifier.slice(0, identifier.indexOf('\n')), id: idOfKey(identifier), method, position, occurred_at: e.metadata.occurredAt });
        }
        if (enrolment === undefined) break;
        provisionedHere.add(credentialId);
        newProvisioned.push([credentialId, enrolment.subscription_id, nodeId, method, position, enrolment.position, e.metadata.occurredAt]);
        break;
      }
      case 'CredentialExpired':
        setStatus(credentials.get(event.data.credentialId), changedCredentials, 'expired', position);
        pending.end(event.data.credentialId);
        break;
      case 'AssociationConfigured': {
        const { associationId, credentialId, nodeId, registree } = event.data;
        // The bare AE-ID (old-shape credentials) is named here; the App-ID's instance at establishment (review 49).
        nameIdentifier(registree.kind, registree.id, nodeId, position);
        namedNow(identifierKey(registree.kind, registree.id), nodeId);
        if (associations.get(associationId) !== undefined) break;
        const row: Association = {
          association_id: associationId, credential_id: credentialId, node_id: nodeId, status: 'configured', status_position: position,
          app_id: registree.kind === 'ae' ? registree.appId : null, ae_id: registree.kind === 'ae' ? registree.id : null,
        };
        associations.set(associationId, row);
        changedAssociations.add(row);
        created.add(row);
        break;
      }
      case 'AssociationEstablished': {
        const row = associations.get(event.data.associationId);
        setStatus(row, changedAssociations, 'established', position);
        // The App-ID's instance runs on its node from now on, as the cascade links it (review 49: never at configuration).
        if (row?.app_id == null || row.ae_id === null) break;
        nameIdentifier('app-ae', appAeId(row.app_id, row.ae_id), row.node_id, position);
        namedNow(identifierKey('app-ae', appAeId(row.app_id, row.ae_id)), row.node_id);
        break;
      }
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
  writeRows(db, ENROLMENTS, enrolmentRows);
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
  pending.flush();
  const identifierRows: unknown[][] = [];
  for (const key of changedIdentifiers) {
    const { node_id, position } = identifiers.get(key)!;
    identifierRows.push([key.slice(0, key.indexOf('\n')), idOfKey(key), node_id, position]);
  }
  writeRows(db, IDENTIFIERS, identifierRows);
};
