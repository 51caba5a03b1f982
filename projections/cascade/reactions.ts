import type { DecodedEvent } from '../../domain/stored.ts';
import type { RevocationReason } from '../../domain/events/index.ts';
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
  credentialState(id: string): Promise<{ state: string; reason?: RevocationReason }>;
}

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
  switch (e.event.type) {
    case 'CredentialRevoked':
      return revokeAssociations(ctx.dependents(stream, 'association-of-credential'), e.event.data.reason);
    case 'NodeRevoked': {
      const { reason } = e.event.data;
      return [
        ...ctx.dependents(stream, 'credential-of-node').map((s) => ({
          type: 'revokeCredential',
          data: { credentialId: idOf(s), reason },
        })),
        ...revokeAssociations(ctx.dependents(stream, 'association-of-node'), reason),
      ];
    }
    case 'ApplicationRevoked':
      return revokeAssociations(ctx.dependents(stream, 'association-of-application'), e.event.data.reason);
    case 'SubscriptionExpired':
    case 'SubscriptionTerminated': {
      const subscriptionId = e.event.data.subscriptionId;
      return ctx
        .dependents(stream, 'node-of-subscription')
        .map((s) => ({ type: 'expireNodeEnrolment', data: { nodeId: idOf(s), subscriptionId } }));
    }
    case 'AssociationConfigured':
    case 'AssociationEstablished': {
      const associationId = e.event.data.associationId;
      const association = await ctx.association(associationId);
      // Closes the race where an association was decided just before its credential's revocation was stored.
      const credential = association.context.credentialId
        ? await ctx.credentialState(association.context.credentialId)
        : undefined;
      if (credential !== undefined && (credential.state === 'revoked' || credential.state === 'expired')) {
        return revokeAssociations([`association-${associationId}`], credential.reason ?? 'cessationOfOperation');
      }
      return e.event.type === 'AssociationEstablished' ? bookkeeping('record', associationId, association.context) : [];
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
  'ApplicationRevoked',
  'SubscriptionExpired',
  'SubscriptionTerminated',
  'AssociationConfigured',
  'AssociationEstablished',
  'AssociationRevoked',
  'AssociationExpired',
] as const;
