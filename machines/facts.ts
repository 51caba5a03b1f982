import type { DomainEvent } from '../domain/events/index.ts';
import { streamIdOf, type EntityKind, type EntityView } from '../domain/streams.ts';
import type { AssociationContext, CredentialContext } from './contexts.ts';
import type { FactName, Facts, FactSources } from './types.ts';

/**
 * The other entities a guard needs to see before accepting an event. The engine reads them at decision time;
 * replay reads them as they stood at the event's global position, so cross-entity rules are re-checked too.
 */
const factSourcesOf = (event: DomainEvent, context: unknown): FactSources => {
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
      // Only remote provisioning rests on its bootstrap credential (bootstrapIsUsable): a pre-provisioned one that
      // names one takes no dependency on it (no conflict, no claim).
      return event.data.method !== 'remote-provisioning' || event.data.bootstrapCredentialId === undefined
        ? {}
        : { bootstrap: { kind: 'credential', id: event.data.bootstrapCredentialId } };
    case 'CredentialRotationStarted': {
      const previous = (context as CredentialContext).successorId;
      return {
        successor: { kind: 'credential', id: event.data.successorId },
        ...(previous !== undefined ? { previousSuccessor: { kind: 'credential' as const, id: previous } } : {}),
      };
    }
    case 'CredentialRotationAbandoned':
      return { successor: { kind: 'credential', id: event.data.successorId } };
    case 'ApplicationEnrolled':
    case 'ApplicationEnrolmentEnded':
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

/** Reads another entity for a guard; undefined when it does not exist (or, for replay, did not yet). */
export type FactReader = (kind: EntityKind, id: string) => EntityView | undefined;

/** The facts an event's guards need, each read by `read`: the one place that maps fact names to entities. */
export const gatherFacts = (event: DomainEvent, context: unknown, read: FactReader): Facts => {
  const sources = factSourcesOf(event, context);
  const facts: Facts = {};
  for (const name in sources) {
    const source = sources[name as FactName]!;
    facts[name as FactName] = read(source.kind, source.id);
  }
  return facts;
};

/** The same for readers that go to a store (the engine, replay of one entity): every source is loaded first. */
export const gatherFactsAsync = async (
  event: DomainEvent,
  context: unknown,
  load: (kind: EntityKind, id: string) => Promise<EntityView | undefined>,
): Promise<Facts> => {
  const views = new Map<string, EntityView | undefined>();
  for (const source of Object.values(factSourcesOf(event, context))) {
    views.set(streamIdOf(source.kind, source.id), await load(source.kind, source.id));
  }
  return gatherFacts(event, context, (kind, id) => views.get(streamIdOf(kind, id)));
};
