import type { DecodedEvent } from '../../domain/stored.ts';
import { streamIdOf } from '../../domain/streams.ts';
import type { RevocationReason } from '../../domain/events/index.ts';
import { enrolmentEndReason } from '../../machines/index.ts';
import { applicationCredentialOnArrival, applicationCredentialsOfCompromised } from './application-credentials-of-compromised.ts';
import { associationsOfTheCredentialLeft } from './application-moved.ts';
import { applicationsOfEnded } from './applications-of-ended.ts';
import type { AssociationLinks } from './associations.ts';
import { bookkeeping } from './bookkeeping.ts';
import { provisionedOnArrival, provisionedOnCompromised } from './bootstrap-provisioned.ts';
import { idOf, isUnresolved, revokeAssociations, revokeCredential, revokeCredentials, type Outcome, type Reaction, type Unresolved } from './reaction.ts';
import { endedOwner, endedParent, orUnresolved, type ReactionContext } from './reaction-context.ts';
import { associationsUnderAnotherCse, credentialsUnderAnotherCse, CSE_ID_MOVED } from './under-another-cse.ts';
import { certifiedByASubscriptionLeft, credentialsOfTheSubscriptionLeft } from './under-another-subscription.ts';

/**
 * What follows from an event: the revocation cascade (credential -> associations and the enrolments of the App-IDs
 * enrolled with it; node -> credentials and associations, and for keyCompromise the App-ID credentials its AEs signed
 * in with (review 249); a bootstrap credential revoked for keyCompromise -> the credentials remotely provisioned on it
 * (review 288); App-ID, or its enrolment's end -> its instances'
 * associations, seed 003 11.2.2; an App-ID's move off a credential -> its instances established with it, review 343),
 * subscription end -> node enrolments,
 * a node's re-enrolment under another CSE-ID -> its associations and credentials under the old one (RS-01), under
 * another subscription -> its credentials certified by the CA of the one it left (review 287),
 * and the association bookkeeping. Pure over its lookups.
 */
export const reactionsTo = async (e: DecodedEvent, ctx: ReactionContext): Promise<Outcome[]> => {
  const stream = e.record.streamId;
  const endNode = async (reason: RevocationReason): Promise<Outcome[]> => [
    ...revokeCredentials(ctx.dependents(stream, 'credential-of-node'), reason),
    ...revokeAssociations(ctx.dependents(stream, 'association-of-node'), reason),
    ...(await applicationCredentialsOfCompromised(ctx, stream, reason)),
  ];
  switch (e.event.type) {
    case 'CredentialRevoked':
      return [
        ...revokeAssociations(ctx.dependents(stream, 'association-of-credential'), e.event.data.reason),
        ...(await applicationsOfEnded(ctx, e.event.data.credentialId, e.event.data.reason)),
        // A bootstrap credential's key compromised: what was remotely provisioned on it may be an impostor's (review 288).
        ...provisionedOnCompromised(ctx, stream, e.event.data.reason),
      ];
    case 'CredentialProvisioned': {
      const { credentialId, method, bootstrapCredentialId } = e.event.data;
      return method === 'remote-provisioning' ? await provisionedOnArrival(ctx, credentialId, bootstrapCredentialId) : [];
    }
    case 'CredentialExpired': {
      // An established association expires before its credential (its lifetime is shorter, by its machine's guard).
      // One configured and never established has no expiry of its own: it ends with the credential, or would stay
      // configured on an expired credential for good (a dangling association).
      const unestablished: string[] = [];
      const unresolved: Unresolved[] = [];
      for (const s of ctx.dependents(stream, 'association-of-credential')) {
        const links = await orUnresolved(() => ctx.association(idOf(s)));
        if (isUnresolved(links)) unresolved.push(links);
        else if (!links.established) unestablished.push(s);
      }
      return [
        ...unresolved,
        ...revokeAssociations(unestablished, 'cessationOfOperation'),
        ...(await applicationsOfEnded(ctx, e.event.data.credentialId, 'expired')),
      ];
    }
    case 'NodeRevoked':
      return await endNode(e.event.data.reason);
    case 'NodeEnrolmentExpired':
      // The node's enrolment ended with its subscription and expired is final: nothing of it may stay in use.
      return await endNode('cessationOfOperation');
    case 'ApplicationRevoked': {
      const { reason } = e.event.data;
      return [
        ...revokeAssociations(ctx.dependents(stream, 'association-of-application'), reason),
        ...revokeCredentials(ctx.dependents(stream, 'credential-of-application'), reason),
      ];
    }
    case 'ApplicationEnrolmentEnded':
      // Its instances lose access as when the App-ID is revoked; the App-ID and its own credentials stay.
      return revokeAssociations(ctx.dependents(stream, 'association-of-application'), e.event.data.reason);
    case 'SubscriptionExpired':
    case 'SubscriptionTerminated': {
      const subscriptionId = e.event.data.subscriptionId;
      return ctx
        .dependents(stream, 'node-of-subscription')
        .map((s) => ({ type: 'expireNodeEnrolment', data: { nodeId: idOf(s), subscriptionId } }));
    }
    // A store without conditions across streams (or a raced import) can hold a fact stored just after its parent
    // ended. These re-checks against the parents' endings before the event close each such race.
    case 'CredentialIssued': {
      const { owner, credentialId } = e.event.data;
      let reason: RevocationReason | undefined;
      if (owner.kind === 'node') reason = await ctx.ended('node', owner.id);
      else if (owner.kind === 'app') reason = await ctx.ended('application', owner.id);
      // A CSE-ID's credential that names its node (review 41) follows that node alone, while it holds the CSE-ID
      // (review 44: decided before the node's re-enrolment under another, stored after it, it is revoked on arrival).
      else if (owner.kind === 'cse' && owner.nodeId !== undefined) {
        const held = ctx.cseIdOf(owner.nodeId);
        reason = (await ctx.ended('node', owner.nodeId)) ?? (held !== undefined && held !== owner.id ? CSE_ID_MOVED : undefined);
      } else {
        // An AE-ID's that names its App-ID follows it (review 41), and the nodes its instance runs on, none of which
        // has ended (an ended node is no longer one it runs on; review 49). A CSE's or AE's credential stored without
        // its holder follows the node (and App-ID) its identifier belongs to, as far as the log has said yet.
        if (owner.kind === 'ae' && owner.appId !== undefined) reason = await ctx.ended('application', owner.appId);
        else {
          const of = ctx.ownerOf(owner.kind, owner.id);
          if (of !== undefined) reason = await endedOwner(ctx, of.nodeId, of.appId);
        }
      }
      // Certified by the CA of a subscription its node has left before it was recorded (review 292).
      const node = owner.kind === 'node' ? owner.id : owner.kind === 'cse' ? owner.nodeId : undefined;
      if (reason === undefined && node !== undefined) reason = certifiedByASubscriptionLeft(ctx, streamIdOf('node', node), e.event.data.certificate);
      return reason === undefined ? [] : [revokeCredential(credentialId, reason)];
    }
    case 'ApplicationEnrolled': {
      const { appId, credentialId, replaces } = e.event.data;
      // Moved off another credential: what its instances established with that one is theirs no more (review 343).
      const moved = await associationsOfTheCredentialLeft(ctx, stream, credentialId, replaces);
      const reason = await ctx.ended('credential', credentialId);
      return reason === undefined ? moved : [...moved, { type: 'endApplicationEnrolment', data: { appId, credentialId, reason: enrolmentEndReason(reason) } }];
    }
    case 'NodeEnrolled': {
      const { nodeId, subscriptionId, cseId } = e.event.data;
      const enrolment: Reaction[] =
        (await ctx.ended('subscription', subscriptionId)) === undefined ? [] : [{ type: 'expireNodeEnrolment', data: { nodeId, subscriptionId } }];
      const underAnotherCse = await credentialsUnderAnotherCse(ctx, stream, cseId);
      // Under another CSE-ID and another subscription at once, a credential is revoked once (both for affiliationChanged).
      const revoked = new Set(underAnotherCse.map((r) => r.data['credentialId']));
      const ofTheSubscriptionLeft = (await credentialsOfTheSubscriptionLeft(ctx, stream, subscriptionId)).filter((r) => !revoked.has(r.data['credentialId']));
      return [...enrolment, ...(await associationsUnderAnotherCse(ctx, stream, cseId)), ...underAnotherCse, ...ofTheSubscriptionLeft];
    }
    case 'AssociationConfigured': {
      const { associationId, credentialId, nodeId, registree } = e.event.data;
      const links: AssociationLinks = {
        credentialId,
        nodeId,
        ...(registree.kind === 'ae' ? { application: { appId: registree.appId, aeId: registree.id } } : {}),
        established: false,
      };
      const reason = await endedParent(links, ctx);
      // Decided against the node before its re-enrolment under another CSE-ID, stored after it (a decision judged at
      // its claims, or a raced import): the re-enrolment's reaction could not see it, so it is revoked on arrival.
      const held = registree.kind === 'cse' ? ctx.cseIdOf(nodeId) : undefined;
      const revocation = reason ?? (held !== undefined && held !== registree.id ? CSE_ID_MOVED : undefined);
      const association = revocation === undefined ? [] : revokeAssociations([`association-${associationId}`], revocation);
      // The association says whose its registree is: the credentials waiting for that follow the node (and App-ID),
      // which may have ended already (an import raced): then they end with it, as if linked before.
      // (No parent ended: neither did the owner, which endedParent has looked at.)
      // An instance's credentials wait for no configuration: they follow its establishments only (review 49).
      const waiting = ctx.waitingFor(registree.kind, registree.id);
      if (waiting.length === 0 || reason === undefined) return association;
      const ownerEnded = await endedOwner(ctx, nodeId, registree.kind === 'ae' ? registree.appId : undefined);
      return ownerEnded === undefined
        ? association
        : [...association, ...revokeCredentials(waiting, ownerEnded)];
    }
    case 'AssociationEstablished': {
      const associationId = e.event.data.associationId;
      const links = await ctx.association(associationId);
      const reason = await endedParent(links, ctx);
      if (reason === undefined) return bookkeeping('record', associationId, links);
      // Established on a node revoked for keyCompromise: the App-ID credential it signed in with was given away there.
      const nodeReason = links.nodeId === undefined ? undefined : await ctx.ended('node', links.nodeId);
      return [...revokeAssociations([`association-${associationId}`], reason), ...applicationCredentialOnArrival(links, nodeReason)];
    }
    case 'AssociationRevoked':
    case 'AssociationExpired': {
      const associationId = e.event.data.associationId;
      const links = await ctx.association(associationId);
      return links.established ? bookkeeping('release', associationId, links) : [];
    }
    default:
      return [];
  }
};

export const CASCADE_EVENT_TYPES = [
  'CredentialIssued',
  'CredentialProvisioned',
  'CredentialRevoked',
  'NodeEnrolled',
  'NodeRevoked',
  'NodeEnrolmentExpired',
  'ApplicationRevoked',
  'ApplicationEnrolled',
  'ApplicationEnrolmentEnded',
  'SubscriptionExpired',
  'SubscriptionTerminated',
  'AssociationConfigured',
  'AssociationEstablished',
  'AssociationRevoked',
  'AssociationExpired',
  'CredentialExpired',
] as const;
