import type Database from 'better-sqlite3';
import type { DecodedEvent } from '../../domain/stored.ts';
import { batchChanges, setStatus } from './batch-changes.ts';
import { keysOf } from './batch-keys.ts';
import { readBatch } from './batch-read.ts';
import type { Association, Credential } from './batch-rows.ts';
import { writeBatch } from './batch-write.ts';
import { appAeId, identifierKey, identifierOfOwner, idOfKey } from './identifier-keys.ts';
import { inForceAt } from './subscriptions.ts';

/*
 * The compliance read model's rules, their one definition (SER-023 revocation records, RS-17 change of
 * subscription): first insert wins; a status moves only forward by position, so an event delivered twice, or late,
 * changes nothing; an enrolment is replaced by a later one and removed by a later expiry; a provisioning names the
 * enrolment its node holds at that very event, in global order; a revocation is recorded once, by position, a
 * credential's dated when it occurred, as the CRL's invalidityDate (its revocationDate where it has none) and OCSP's
 * invalidityDate give it (review 197, revocation-dates.ts). A
 * credential issued to a CSE-ID or AE-ID is its node's: the node the latest enrolment (CSE-ID) or association
 * configuration (its Registree) names the identifier for, by position, at the provisioning; one issued to a CSE-ID
 * that names its node (review 41) is that node's (`owner_node_id`, review 44); one issued to an AE-ID that names its
 * App-ID (review 41) is the node's that App-ID's instance under that AE-ID runs on (`app-ae`, `owner_app_id`), never
 * the node of another App-ID's use of the same AE-ID (RS-01; the cascade keys it alike, projections/cascade): the node
 * of the latest association of the instance established, never one only configured (review 49: a typo's node). One
 * provisioned before any event named its identifier (issue, provision, then the AE's first association: the usual
 * pre-provisioning order) waits for the first event that does, and is recorded then, with the provisioning's own
 * position, under the enrolment that node held at the provisioning (review 101: every change of enrolment is kept,
 * compliance_enrolment_history); ended (revoked, expired) before, or its node enrolled under none at the provisioning,
 * it is not (review 48, pending.ts). Neither is one made when the subscription its node was enrolled under was no
 * longer in force: ended by a termination or expiry recorded before it, or at or past its notAfter (review 155,
 * subscriptions.ts). Every provisioned row is listed at the event that wrote it (`listed_position`:
 * the provisioning, or the naming that settled it), which the query pages by, so no row lands behind a pager. A
 * node's ending (revoked, enrolment expired), an App-ID's revocation and an App-ID's enrolment's end are recorded
 * each once, at its position, and each association's first configuration with its position: what dangling-associations
 * looks at besides the credential (review 249).
 *
 * `applyComplianceMany` applies the events of a batch (`complianceProjection().beginBatch`) or one event live (a
 * batch of one): the rows the events touch are read in one query per table (a subscription when first asked for),
 * the events applied in order to those rows in memory, and each row written once, many to a statement, where the events left it. Rows only ever added
 * (revocations, provisionings) are not read first: `INSERT OR IGNORE` keeps the stored one. An independent statement
 * of the same rules as SQL, event by event, is the reference the tables are compared with
 * (test/support/compliance-by-statement.ts, test/compliance-batched-equal-event-by-event.test.ts).
 */

/** Applies `events`, in order, to the compliance tables: see the rules above. */
export const applyComplianceMany = (db: Database.Database, events: readonly DecodedEvent[]): void => {
  if (events.length === 0) return;
  const rows = readBatch(db, keysOf(events));
  const { credentials, associations, identifiers, enrolments, pending, subscriptions, dates } = rows;
  const changes = batchChanges(db, rows);
  const {
    provisionedHere, changedEnrolments, changedCredentials, created, changedAssociations, newProvisioned, newConfigurations, nameIdentifier, namedNow, enrolmentChanged,
    recordRevocation, parentEnded,
  } = changes;

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
          enrolmentChanged(nodeId, position, subscriptionId);
        } else if (position > row.position) {
          row.subscription_id = subscriptionId;
          row.position = position;
          changedEnrolments.add(nodeId);
          enrolmentChanged(nodeId, position, subscriptionId);
        }
        namedNow(identifierKey('cse', cseId), nodeId, position);
        break;
      }
      case 'NodeEnrolmentExpired':
      case 'NodeRevoked': {
        // Ended after its subscription's notAfter, the enrolment lapsed then: the cascade's revocations it causes are
        // dated there (review 197, revocation-dates.ts).
        if (event.type === 'NodeEnrolmentExpired') {
          const notAfter = subscriptions.get(event.data.subscriptionId)?.not_after_ms;
          dates.enrolmentEnded(e, notAfter == null ? undefined : Number(notAfter));
        }
        // A revoked node is enrolled under no subscription any more: nothing provisioned after it counts as under it.
        const row = enrolments.get(event.data.nodeId);
        if (row !== undefined && row.position < position) {
          enrolments.set(event.data.nodeId, undefined);
          changedEnrolments.add(event.data.nodeId);
          enrolmentChanged(event.data.nodeId, position, null);
        }
        // A node's, an App-ID's or an association's revocation occurred when it was recorded: nothing dates it back.
        if (event.type === 'NodeRevoked') recordRevocation(e, event.data.reason, e.at);
        // Either is final: an association of the node live after it dangles (review 249).
        parentEnded('node', event.data.nodeId, position, event.type);
        break;
      }
      case 'ApplicationRevoked':
        recordRevocation(e, event.data.reason, e.at);
        parentEnded('application', event.data.appId, position, event.type);
        break;
      case 'ApplicationEnrolmentEnded':
        // Its instances lose access as when the App-ID is revoked (seed 003 11.2.2): those configured before it.
        parentEnded('application-enrolment', event.data.appId, position, event.type);
        break;
      case 'CredentialRevoked':
        recordRevocation(e, event.data.reason, dates.credentialRevoked(e, event.data.credentialId, event.data.reason));
        // A reason raised to keyCompromise is a revocation of one revoked already: the credential ended at its first, the
        // position dangling-associations orders and pages its rows by (review 305: the raise moved them mid-paging).
        if (credentials.get(event.data.credentialId)?.status !== 'revoked') setStatus(credentials.get(event.data.credentialId), changedCredentials, 'revoked', position);
        pending.end(event.data.credentialId);
        break;
      case 'AssociationRevoked':
        recordRevocation(e, event.data.reason, e.at);
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
          pending.add({ credential_id: credentialId, kind: identifier.slice(0, identifier.indexOf('\n')), id: idOfKey(identifier), method, position, occurred_at: e.metadata.occurredAt, at: e.at });
        }
        // Not under a subscription ended before it, or past its notAfter (review 155: the machine holds only a node's
        // service credential to a serving subscription; an AE-ID's or a bootstrap credential may come after the end).
        if (enrolment === undefined || !inForceAt(subscriptions.get(enrolment.subscription_id), position, e.at)) break;
        provisionedHere.add(credentialId);
        newProvisioned.push([credentialId, enrolment.subscription_id, nodeId, method, position, enrolment.position, e.metadata.occurredAt, position]);
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
        namedNow(identifierKey(registree.kind, registree.id), nodeId, position);
        // Which of its App-ID's enrolment ends it was live at (review 249); the first configuration wins, as its row.
        newConfigurations.push([associationId, position]);
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
        namedNow(identifierKey('app-ae', appAeId(row.app_id, row.ae_id)), row.node_id, position);
        break;
      }
      case 'AssociationExpired':
        setStatus(associations.get(event.data.associationId), changedAssociations, 'expired', position);
        break;
      case 'CredentialRotationStarted':
        dates.rotationStarted(event.data.credentialId, event.data.overlapEndsAt, position);
        break;
      case 'CredentialRotationAbandoned':
        dates.rotationEnded(event.data.credentialId, position);
        break;
      case 'SubscriptionCreated':
        subscriptions.created(event.data.subscriptionId, event.data.notAfter);
        break;
      case 'SubscriptionTerminated':
      case 'SubscriptionExpired':
        subscriptions.ended(event.data.subscriptionId, position);
        break;
      default:
        break;
    }
  }

  writeBatch(db, rows, changes);
};
