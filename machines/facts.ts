import type { DomainEvent } from '../domain/events/index.ts';
import type { AssociationContext } from './contexts.ts';
import type { FactSources } from './types.ts';

/**
 * The other entities a guard needs to see before accepting an event. The engine reads them at decision time;
 * replay reads them as they stood at the event's global position, so cross-entity rules are re-checked too.
 */
export const factSourcesOf = (event: DomainEvent, context: unknown): FactSources => {
  switch (event.type) {
    case 'NodeEnrolled':
    case 'NodeEnrolmentExpired':
      return { subscription: { kind: 'subscription', id: event.data.subscriptionId } };
    case 'CredentialIssued': {
      const { owner, predecessorId } = event.data;
      const sources: FactSources = {};
      if (owner.kind === 'node') sources.owner = { kind: 'node', id: owner.id };
      if (owner.kind === 'app') sources.owner = { kind: 'application', id: owner.id };
      if (predecessorId !== undefined) sources.predecessor = { kind: 'credential', id: predecessorId };
      return sources;
    }
    case 'CredentialProvisioned':
      return event.data.bootstrapCredentialId === undefined
        ? {}
        : { bootstrap: { kind: 'credential', id: event.data.bootstrapCredentialId } };
    case 'CredentialRotationStarted':
      return { successor: { kind: 'credential', id: event.data.successorId } };
    case 'ApplicationEnrolled':
      return { credential: { kind: 'credential', id: event.data.credentialId } };
    case 'AssociationConfigured': {
      const { credentialId, nodeId, registree } = event.data;
      const sources: FactSources = {
        credential: { kind: 'credential', id: credentialId },
        node: { kind: 'node', id: nodeId },
      };
      if (registree.kind === 'ae') sources.application = { kind: 'application', id: registree.appId };
      return sources;
    }
    case 'AssociationEstablished': {
      const credentialId = (context as AssociationContext).credentialId;
      return credentialId === undefined ? {} : { credential: { kind: 'credential', id: credentialId } };
    }
    case 'PseudonymRotated':
      return { node: { kind: 'node', id: event.data.nodeId } };
    default:
      return {};
  }
};
