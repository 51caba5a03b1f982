import type Database from 'better-sqlite3';
import type { DecodedEvent } from '../../domain/stored.ts';
import { streamIdOf } from '../../domain/streams.ts';
import { ensureSchemaVersion } from '../runtime/index.ts';
import { APPLICATION_CREDENTIALS_TABLES, addApplicationCredential, resetApplicationCredentials, setupApplicationCredentials } from './application-credentials.ts';
import { addAssociation, addInstance, associationLinks, markEstablished } from './associations.ts';
import { BOOTSTRAP_PROVISIONED_TABLES, addBootstrapProvisioned, resetBootstrapProvisioned, setupBootstrapProvisioned } from './bootstrap-provisioned.ts';
import { DEPENDENTS_TABLES, addDependent, resetDependents, setupDependents } from './dependents.ts';
import { addEnding, addEnrolmentEnd, endingOf } from './endings.ts';
import { bindApplication, cseIdOfNode, enrolNode, unbindApplication } from './enrolments.ts';
import { addCseCredential, addOwnedCredential, appAeKey, learnIdentifier, releaseIdentifiersOf } from './identifiers.ts';
import { INSTANCE_CREDENTIALS_TABLES, addInstanceCredential, endInstanceCredential, instanceRunsOn, resetInstanceCredentials, setupInstanceCredentials } from './instance-credentials.ts';
import { dropDeadLettersEndedBy, resetDeadLetters, setupDeadLetters } from './dead-letters.ts';
import { ISSUING_CAS_TABLES, addIssuingCa, certifiedSubscriptionOf, resetIssuingCas, setupIssuingCas } from './under-another-subscription.ts';
import { PROCESS_MANAGER_ACTOR } from './own-commands.ts';

/** The events that end an entity, kept with their cause so a dependent's revocation can be traced to its origin. */
export const ENDINGS: ReadonlySet<string> = new Set([
  'CredentialRevoked',
  'CredentialExpired',
  'NodeRevoked',
  'NodeEnrolmentExpired',
  'ApplicationRevoked',
  'SubscriptionExpired',
  'SubscriptionTerminated',
  'AssociationRevoked',
  'AssociationExpired',
]);

const CASCADE_SCHEMA_VERSION = 20;
const CASCADE_TABLES = [
  ...DEPENDENTS_TABLES,
  ...INSTANCE_CREDENTIALS_TABLES,
  ...APPLICATION_CREDENTIALS_TABLES,
  ...BOOTSTRAP_PROVISIONED_TABLES,
  ...ISSUING_CAS_TABLES,
  'cascade_dead_letters',
];

export const setupReadModel = (d: Database.Database): void => {
  // Version 2: endings of expired credentials, AE-IDs and association rows, which the reactions now read
  // instead of the engine. Version 3: a node depends on the one subscription it is enrolled under now, and a
  // credential's expiry ends the associations configured on it and never established. Version 4 (5): a credential
  // issued to a CSE-ID or AE-ID follows the node (and App-ID) that identifier belongs to when it is issued. A read model written
  // before is rebuilt from the log: the reactions it re-runs are found recorded under their derived ids, so
  // nothing is applied twice (and an association left configured on an expired credential is ended now). Version
  // 6: the credential each App-ID is enrolled with, whose end ends the App-ID's authorisation (an App-ID whose
  // credential ended before is brought to that now). Version 7: a credential lists the App-IDs enrolled with it,
  // and each enrolment end names its credential (the dependents graph shows them). Version 8: an association keeps
  // its CSE Registree's CSE-ID and a node the CSE-ID it holds, so a re-enrolment under another CSE-ID revokes what
  // the node associated under the old one (RS-01); a rebuild revokes those that a re-enrolment before left alive.
  // Version 9 (review 44): a credential issued to a CSE-ID that names its node keeps that CSE-ID
  // (cascade_cse_credentials), so the node's re-enrolment under another revokes it as it does the associations; an
  // AE-ID's that names its App-ID follows the node of that App-ID's instance under the AE-ID (`app-ae`
  // identifiers), not of whoever used the AE-ID last. A rebuild revokes what a re-enrolment before left alive, and
  // links an AE-ID's credential anew. Version 10 (RS-01): an AE-ID's credential that names its App-ID follows every
  // node that App-ID's instance under the AE-ID runs on, not only the first (cascade_instance_credentials): revoking
  // the node the instance moved to left it live. A rebuild revokes what such a revocation before left live.
  // Version 11 (review 48, RS-01): the instance runs on a node once an association of it there is established, not
  // configured (cascade_instance_nodes): a node it never ran on took its credential, and the live association
  // elsewhere with it, when revoked; and a credential issued later follows every node the instance runs on, not the
  // node of the last association configured. A rebuild links them so, and revokes what such a revocation left live.
  // Version 12 (review 49, RS-01): such a credential issued while the instance ran on no node waited for the
  // identifier, and the first association configured (a typo, never established) took it: that node's revocation
  // revoked it and the live association elsewhere. It follows only the nodes the instance is established on now
  // (no `app-ae` identifier any more), its App-ID always. A rebuild links them so; what was revoked stays revoked.
  // Version 13 (reviews 121, 122): a node revoked as `superseded` revokes its credentials as `cessationOfOperation`;
  // carried on as `superseded`, a rotating one refused it and stayed live. Nothing in the tables changed: the
  // rebuild re-runs the reactions, and revokes each credential such a revocation before left live.
  // Version 14 (review 139): a dead letter keeps its target stream and when its event occurred (GET /v1/projections
  // and `credence projections` list them), and goes when that stream ends later in the log (carried out by hand),
  // unless it is that stream's own broken history: it stayed for good, its alert too. The rebuild drops those an
  // operator has carried out already.
  // Version 15 (review 212, SER-010): an ending keeps its revocation's reason raised to keyCompromise later
  // (raised_reason, raised_position, raised_event_id), beside the first reason the cascade decided from: the graph
  // showed only the first. The rebuild records the raises stored before.
  // Version 16 (review 249, seed 004): the credentials issued to an App-ID as its own (cascade_application_owned), so
  // a node revoked for keyCompromise revokes those its AEs signed in with there; left live, they stayed enrolled and
  // authenticated AEs on other nodes. The rebuild revokes each that such a revocation before left live.
  // Version 17 (review 288, seed 003 11.2.1): the credentials remotely provisioned on each bootstrap credential
  // (cascade_bootstrap_provisioned), so the bootstrap's revocation for keyCompromise revokes them; left live, they
  // and their associations stayed in service though the factory key's holder could have run that provisioning. The
  // rebuild revokes each that such a revocation before left live.
  // Version 18 (review 287, issue 13): the Credence CA that issued each credential's certificate (cascade_issuing_cas),
  // so a node's enrolment under another subscription revokes those the CA of the one it left certified; left live,
  // that subscriber's relying parties (trusting its CA, OCSP `good`) kept authenticating a node now another's. The
  // rebuild revokes each that such a move before left live.
  // Version 19 (review 292): the subscriptions each node left for another (cascade_subscriptions_left), so a
  // credential recorded after the move is revoked on arrival only when the CA of one of them certified it; any CA but
  // `default` and the node's current subscription's counted, and a credential of a CA named for no subscription was
  // revoked at issue. The rebuild records the moves; what such a revocation before ended stays ended.
  // Version 20 (review 343): an App-ID's move onto another credential revokes its instances established with the one it
  // left (application-moved.ts). Nothing in the tables changed: the rebuild re-runs the reactions, and revokes each
  // such instance an earlier move left live. Within it (unreleased, review 355), cascade_issuing_cas holds the
  // subscription each certificate's CA certifies (issuingCaCertifies, else its issuingCa; none for `default`), so a CA
  // naming its subscription (sub-a-ca of Sub-A) is followed too: by its id alone, its certificates outlived a move.
  ensureSchemaVersion(d, 'cascade', CASCADE_SCHEMA_VERSION, CASCADE_TABLES);
  setupDependents(d);
  setupInstanceCredentials(d);
  setupApplicationCredentials(d);
  setupBootstrapProvisioned(d);
  setupIssuingCas(d);
  setupDeadLetters(d);
};

export const resetReadModel = (d: Database.Database): void => {
  resetDependents(d);
  resetInstanceCredentials(d);
  resetApplicationCredentials(d);
  resetBootstrapProvisioned(d);
  resetIssuingCas(d);
  resetDeadLetters(d);
};

/** Keeps what the reactions look up as of each event: dependents, endings, identifiers and enrolments. */
export const applyToReadModel = (d: Database.Database, e: DecodedEvent): void => {
  const stream = e.record.streamId;
  switch (e.event.type) {
    case 'CredentialIssued': {
      const { owner, certificate } = e.event.data;
      // Review 287: the subscription its certificate's CA certifies, which its node may leave (review 355: the one
      // that CA names, else the one of its id).
      const certified = certifiedSubscriptionOf(certificate);
      if (certified !== undefined) addIssuingCa(d, stream, certified);
      if (owner.kind === 'node') addDependent(d, streamIdOf('node', owner.id), 'credential-of-node', stream);
      if (owner.kind === 'app') {
        addDependent(d, streamIdOf('application', owner.id), 'credential-of-application', stream);
        // Its key is held on the nodes its instances sign in with it on (review 249).
        addApplicationCredential(d, stream, streamIdOf('application', owner.id));
      }
      // A CSE-ID's credential that names its node is that node's, now and for good (review 41): never handed to
      // the identifier's next holder. An AE-ID's that names its App-ID is that App-ID's, and follows the nodes
      // that App-ID's instance under the AE-ID runs on (review 44: never another App-ID's that used the AE-ID).
      // One stored before they were named follows the identifier's holder alone, as it did.
      // Review 44: the CSE-ID is kept with it, so the node's re-enrolment under another revokes it.
      if (owner.kind === 'cse' && owner.nodeId !== undefined) {
        addDependent(d, streamIdOf('node', owner.nodeId), 'credential-of-node', stream);
        addCseCredential(d, stream, owner.id);
      } else if (owner.kind === 'ae' && owner.appId !== undefined) {
        // Review 49: the nodes the instance runs on (established there), and those it is established on later;
        // never the node of an association only configured (a typo took the credential with it).
        addInstanceCredential(d, appAeKey(owner.appId, owner.id), stream);
        addDependent(d, streamIdOf('application', owner.appId), 'credential-of-application', stream);
      } else if (owner.kind === 'cse' || owner.kind === 'ae') addOwnedCredential(d, owner.kind, owner.id, stream);
      return;
    }
    case 'CredentialProvisioned': {
      // Review 288: a remote provisioning names the bootstrap credential it was authenticated on.
      const { credentialId, method, bootstrapCredentialId } = e.event.data;
      if (method === 'remote-provisioning' && bootstrapCredentialId !== undefined) {
        addBootstrapProvisioned(d, streamIdOf('credential', bootstrapCredentialId), streamIdOf('credential', credentialId));
      }
      return;
    }
    case 'NodeEnrolled':
      learnIdentifier(d, 'cse', e.event.data.cseId, { node: stream });
      return enrolNode(d, streamIdOf('subscription', e.event.data.subscriptionId), stream, e.event.data.cseId);
    case 'AssociationConfigured': {
      const { associationId, credentialId, nodeId, registree } = e.event.data;
      const nodeStream = streamIdOf('node', nodeId);
      // An owner that ended before this association was stored (a raced import) takes no identifier back, nor does
      // a node that moved to another CSE-ID meanwhile (the association is revoked on arrival; RS-01).
      const ended = (owner: string): boolean => endingOf(d, owner) !== undefined;
      const stillHeld = (cseId: string): boolean => (cseIdOfNode(d, nodeStream) ?? cseId) === cseId;
      addDependent(d, streamIdOf('credential', credentialId), 'association-of-credential', stream);
      addDependent(d, streamIdOf('node', nodeId), 'association-of-node', stream);
      if (registree.kind === 'ae') {
        addDependent(d, streamIdOf('application', registree.appId), 'association-of-application', stream);
        addInstance(d, stream, registree.id);
        const application = streamIdOf('application', registree.appId);
        // The AE-ID's old-shape credentials (no App-ID) follow it; the instance's follow its establishments only.
        learnIdentifier(d, 'ae', registree.id, { node: nodeStream, application }, !ended(nodeStream) && !ended(application));
      } else learnIdentifier(d, 'cse', registree.id, { node: nodeStream }, !ended(nodeStream) && stillHeld(registree.id));
      addAssociation(d, associationId, {
        credentialId,
        nodeId,
        ...(registree.kind === 'ae' ? { application: { appId: registree.appId, aeId: registree.id } } : { cseId: registree.id }),
      });
      return;
    }
    case 'AssociationEstablished': {
      markEstablished(d, e.event.data.associationId);
      // The instance runs on the association's node from now on (review 48: established, not configured), and its
      // live credentials follow that node (RS-01), unless the node or App-ID ended meanwhile.
      const links = associationLinks(d, e.event.data.associationId);
      if (links?.application === undefined || links.nodeId === undefined) return;
      const node = streamIdOf('node', links.nodeId);
      if (endingOf(d, node) !== undefined || endingOf(d, streamIdOf('application', links.application.appId)) !== undefined) return;
      return instanceRunsOn(d, appAeKey(links.application.appId, links.application.aeId), node);
    }
    case 'ApplicationEnrolled':
      // Enrolled anew (moved onto a successor, by the cascade or by hand): no longer with a credential that ended.
      dropDeadLettersEndedBy(d, stream, e.record.position, 'enrolment');
      return bindApplication(d, stream, streamIdOf('credential', e.event.data.credentialId));
    case 'ApplicationEnrolmentEnded':
      dropDeadLettersEndedBy(d, stream, e.record.position, 'enrolment');
      addEnrolmentEnd(d, { ...endingFields(e), reason: e.event.data.reason }, streamIdOf('credential', e.event.data.credentialId));
      return unbindApplication(d, stream);
    default:
      // A node's end (revoked, or its enrolment expired: both final) or an App-ID's releases its identifiers.
      if (e.event.type === 'NodeRevoked' || e.event.type === 'NodeEnrolmentExpired' || e.event.type === 'ApplicationRevoked') releaseIdentifiersOf(d, stream);
      if (e.event.type === 'ApplicationRevoked') unbindApplication(d, stream, { revoked: true });
      if (e.event.type === 'CredentialRevoked' || e.event.type === 'CredentialExpired') endInstanceCredential(d, stream);
      if (ENDINGS.has(e.event.type)) {
        // Its machine takes no command any more (but a revocation's raise to keyCompromise, which addEnding keeps
        // beside the first ending): what waited for an operator on it is done, or can never be.
        dropDeadLettersEndedBy(d, stream, e.record.position, 'stream');
        const reason = (e.event.data as { reason?: unknown }).reason;
        addEnding(d, { ...endingFields(e), type: e.event.type, ...(typeof reason === 'string' ? { reason } : {}) });
      }
      return;
  }
};

/** Where an event stands in a cascade: its stream and position, the event that caused it, and whether it is the cascade's. */
const endingFields = (e: DecodedEvent) => ({
  streamId: e.record.streamId,
  eventId: e.record.id,
  position: e.record.position,
  causeEventId: e.metadata.causationId,
  byCascade: e.metadata.actor.id === PROCESS_MANAGER_ACTOR.id,
});
