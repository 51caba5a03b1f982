import type { AssociationLinks } from './associations.ts';
import type { Reaction } from './reaction.ts';

/** Bookkeeping on the entities an association derives from, so their machines know it is alive (or not). */
export const bookkeeping = (verb: 'record' | 'release', associationId: string, a: AssociationLinks): Reaction[] => {
  const out: Reaction[] = [];
  if (a.credentialId !== undefined) {
    out.push({ type: `${verb}CredentialAssociation`, data: { credentialId: a.credentialId, associationId } });
  }
  if (a.nodeId !== undefined) out.push({ type: `${verb}NodeAssociation`, data: { nodeId: a.nodeId, associationId } });
  if (a.application !== undefined) {
    out.push(
      verb === 'record'
        ? { type: 'recordApplicationInstance', data: { appId: a.application.appId, aeId: a.application.aeId, associationId } }
        : { type: 'releaseApplicationInstance', data: { appId: a.application.appId, associationId } },
    );
  }
  return out;
};

/**
 * The cascade's bookkeeping commands. Each reads the association it names as its only fact (machines/facts.ts) and
 * writes its own target, so the ones an event calls for (a credential, a node, an App-ID: one target each) decide
 * nothing from one another and may be issued together, into one group commit (process-manager.ts).
 */
export const BOOKKEEPING_COMMAND_TYPES: ReadonlySet<string> = new Set([
  'recordCredentialAssociation',
  'releaseCredentialAssociation',
  'recordNodeAssociation',
  'releaseNodeAssociation',
  'recordApplicationInstance',
  'releaseApplicationInstance',
]);

/** What the cascade's bookkeeping commands record. */
export const BOOKKEEPING_EVENT_TYPES = [
  'CredentialAssociated',
  'CredentialAssociationReleased',
  'NodeAssociated',
  'NodeAssociationReleased',
  'ApplicationInstanceAssociated',
  'ApplicationInstanceReleased',
] as const;
