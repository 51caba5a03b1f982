import type { DecodedEvent } from '../../domain/stored.ts';
import type { RevocationReason } from '../../domain/events/index.ts';
import type { EntityKind } from '../../domain/streams.ts';
import type { AssociationContext } from '../../machines/index.ts';

/** A command the process manager will issue, before ids and metadata are attached. */
export interface Reaction {
  readonly type: string;
  readonly data: Record<string, unknown>;
}

/** The lookups a reaction needs: dependents from the cascade table, entities from the engine. */
export interface ReactionContext {
  dependents(parent: string, relation: Parameters<typeof import('./dependents.ts').dependentsOf>[2]): string[];
  association(id: string): Promise<{ state: string; context: AssociationContext }>;
  /** An entity's current state and, when revoked, why. */
  stateOf(kind: EntityKind, id: string): Promise<{ state: string; reason?: RevocationReason }>;
}

const FINAL = new Set(['revoked', 'expired']);

/** The reason a dependent inherits from a parent that ended: its revocation reason, or cessation when it expired. */
const endedReason = (parent: { state: string; reason?: RevocationReason }): RevocationReason | undefined =>
  FINAL.has(parent.state) ? (parent.reason ?? 'cessationOfOperation') : undefined;

const idOf = (streamId: string): string => streamId.slice(streamId.indexOf('-') + 1);

const revokeAssociations = (streams: readonly string[], reason: RevocationReason): Reaction[] =>
  streams.map((s) => ({ type: 'revokeAssociation', data: { associationId: idOf(s), reason } }));

/** Bookkeeping on the entities an association derives from, so their machines know it is alive (or not). */
const bookkeeping = (verb: 'record' | 'release', associationId: string, a: AssociationContext): Reaction[] => {
  const out: Reaction[] = [];
  if (a.credentialId !== undefined) {
    out.push({ type: `${verb}CredentialAssociation`, data: { credentialId: a.credentialId, associationId } });
  }
  if (a.nodeId !== undefined) out.push({ type: `${verb}NodeAssociation`, data: { nodeId: a.nodeId, associationId } });
  if (a.registree?.kind === 'ae') {
    out.push(
      verb === 'record'
        ? { type: 'recordApplicationInstance', data: { appId: a.registree.appId, aeId: a.registree.id, associationId } }
        : { type: 'releaseApplicationInstance', data: { appId: a.registree.appId, associationId } },
    );
  }
  return out;
};

/**
 * What follows from an event: the revocation cascade (credential -> associations; node -> credentials and
 * associations; App-ID -> its instances' associations, seed 003 11.2.2), subscription end -> node enrolments,
 * and the association bookkeeping. Pure over its lookups.
 */
export const reactionsTo = async (e: DecodedEvent, ctx: ReactionContext): Promise<Reaction[]> => {
  const stream = e.record.streamId;
  const endNode = (reason: RevocationReason): Reaction[] => [
    ...ctx.dependents(stream, 'credential-of-node').map((s) => ({ type: 'revokeCredential', data: { credentialId: idOf(s), reason } })),
    ...revokeAssociations(ctx.dependents(stream, 'association-of-node'), reason),
  ];
  switch (e.event.type) {
    case 'CredentialRevoked':
      return revokeAssociations(ctx.dependents(stream, 'association-of-credential'), e.event.data.reason);
    case 'NodeRevoked':
      return endNode(e.event.data.reason);
    case 'NodeEnrolmentExpired':
      // The node's enrolment ended with its subscription and expired is final: nothing of it may stay in use.
      return endNode('cessationOfOperation');
    case 'ApplicationRevoked': {
      const { reason } = e.event.data;
      return [
        ...revokeAssociations(ctx.dependents(stream, 'association-of-application'), reason),
        ...ctx.dependents(stream, 'credential-of-application').map((s) => ({ type: 'revokeCredential', data: { credentialId: idOf(s), reason } })),
      ];
    }
    case 'SubscriptionExpired':
    case 'SubscriptionTerminated': {
      const subscriptionId = e.event.data.subscriptionId;
      return ctx
        .dependents(stream, 'node-of-subscription')
        .map((s) => ({ type: 'expireNodeEnrolment', data: { nodeId: idOf(s), subscriptionId } }));
    }
    // The guards read other entities at decision time, outside any expected revision: a fact can be stored just
    // after its parent ended. These re-checks against the parent's current state close each such race.
    case 'CredentialIssued': {
      const { owner, credentialId } = e.event.data;
      const kind = owner.kind === 'node' ? 'node' : owner.kind === 'app' ? 'application' : undefined;
      const reason = kind === undefined ? undefined : endedReason(await ctx.stateOf(kind, owner.id));
      return reason === undefined ? [] : [{ type: 'revokeCredential', data: { credentialId, reason } }];
    }
    case 'NodeEnrolled': {
      const { nodeId, subscriptionId } = e.event.data;
      const subscription = await ctx.stateOf('subscription', subscriptionId);
      return subscription.state === 'active' ? [] : [{ type: 'expireNodeEnrolment', data: { nodeId, subscriptionId } }];
    }
    case 'AssociationConfigured':
    case 'AssociationEstablished': {
      const associationId = e.event.data.associationId;
      const { context } = await ctx.association(associationId);
      // Looked up one at a time, when reached: a lookup started and never awaited (after an earlier parent ended or
      // failed) would reject unobserved, and an unhandled rejection ends the process (fuzz-stored-events).
      const { credentialId, nodeId, registree } = context;
      const parents = [
        credentialId !== undefined ? () => ctx.stateOf('credential', credentialId) : undefined,
        nodeId !== undefined ? () => ctx.stateOf('node', nodeId) : undefined,
        registree?.kind === 'ae' ? () => ctx.stateOf('application', registree.appId) : undefined,
      ];
      for (const parent of parents) {
        const reason = parent === undefined ? undefined : endedReason(await parent());
        if (reason !== undefined) return revokeAssociations([`association-${associationId}`], reason);
      }
      return e.event.type === 'AssociationEstablished' ? bookkeeping('record', associationId, context) : [];
    }
    case 'AssociationRevoked':
    case 'AssociationExpired': {
      const associationId = e.event.data.associationId;
      const association = await ctx.association(associationId);
      return association.context.establishedAt === undefined ? [] : bookkeeping('release', associationId, association.context);
    }
    default:
      return [];
  }
};

export const CASCADE_EVENT_TYPES = [
  'CredentialIssued',
  'CredentialRevoked',
  'NodeEnrolled',
  'NodeRevoked',
  'NodeEnrolmentExpired',
  'ApplicationRevoked',
  'SubscriptionExpired',
  'SubscriptionTerminated',
  'AssociationConfigured',
  'AssociationEstablished',
  'AssociationRevoked',
  'AssociationExpired',
] as const;
