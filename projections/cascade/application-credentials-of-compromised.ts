import type { RevocationReason } from '../../domain/events/index.ts';
import type { AssociationLinks } from './associations.ts';
import { idOf, isUnresolved, revokeCredential, type Outcome, type Unresolved } from './reaction.ts';
import { orUnresolved, type ReactionContext } from './reaction-context.ts';

/**
 * Review 249 (seed 004: keys live in the node's Secure Environment): a node revoked for keyCompromise gave away the
 * key of every App-ID credential an instance signed in with there (an association on it established with the App-ID's
 * own credential), so each is revoked keyCompromise; its end then ends the App-ID's enrolment and its instances'
 * associations on the other nodes (applications-of-ended.ts). Left live, it stayed enrolled and authenticated AEs
 * elsewhere. For any other reason the node gave nothing away: the credential is shared with the App-ID's instances
 * elsewhere and stays. Every association that ever was established on the node counts, ended or not (its key was
 * held there, as an instance's own credentials stay its nodes', instance-credentials.ts).
 */
export const applicationCredentialsOfCompromised = async (ctx: ReactionContext, node: string, reason: RevocationReason): Promise<Outcome[]> => {
  if (reason !== 'keyCompromise') return [];
  const unresolved: Unresolved[] = [];
  const credentials = new Set<string>();
  for (const s of ctx.dependents(node, 'association-of-node')) {
    const links = await orUnresolved(() => ctx.association(idOf(s)));
    if (isUnresolved(links)) unresolved.push(links);
    else if (links.established) for (const id of heldWith(links)) credentials.add(id);
  }
  return [...unresolved, ...[...credentials].sort().map((id) => revokeCredential(id, 'keyCompromise'))];
};

/**
 * An association established with an App-ID's own credential on a node after the node's revocation for keyCompromise
 * (decided before it, stored after it: a raced import, a store without conditions across streams): the revocation's
 * reaction saw it configured only, so its key is given away here, on arrival.
 */
export const applicationCredentialOnArrival = (links: AssociationLinks, nodeReason: RevocationReason | undefined): Outcome[] =>
  nodeReason === 'keyCompromise' ? heldWith(links).map((id) => revokeCredential(id, 'keyCompromise')) : [];

/** The App-ID credential an association signs in with, when it is one. */
const heldWith = (links: AssociationLinks): string[] =>
  links.onApplicationCredential === true && links.credentialId !== undefined ? [links.credentialId] : [];
