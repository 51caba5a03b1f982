import type Database from 'better-sqlite3';
import type { RevocationReason } from '../../domain/events/index.ts';
import type { CommandSink } from '../../domain/ports/index.ts';
import type { DecodedEvent } from '../../domain/stored.ts';
import { streamIdOf } from '../../domain/streams.ts';
import { heldAt, type ApplicationContext, type AssociationContext, type CredentialContext, type NodeContext } from '../../machines/index.ts';
import { rotationChainEnd } from '../expiry/index.ts';
import { isApplicationCredential } from './application-credentials.ts';
import { associationLinks, type AssociationLinks } from './associations.ts';
import { provisionedOnBootstrap } from './bootstrap-provisioned.ts';
import { dependentsOf } from './dependents.ts';
import { endingOf, type Ending } from './endings.ts';
import { applicationsEnrolledWith, credentialOfApplication, cseIdOfNode, subscriptionOfNode, subscriptionsLeftBy } from './enrolments.ts';
import { cseIdOfCredential, ownerOfIdentifier, waitingFor } from './identifiers.ts';
import { idOf } from './reaction.ts';
import { CERTIFIED_BY_ITS_SUBSCRIPTIONS_CA, CREDENTIAL_OF_APPLICATION, PROVISIONED_ON_BOOTSTRAP, SUBSCRIPTION_OF_NODE, SUBSCRIPTIONS_LEFT_BY_NODE, type Lookup } from './reaction-context.ts';
import { reactionsTo } from './reactions.ts';
import { certifiedByItsSubscriptionsCa } from './under-another-subscription.ts';

const REVOCATIONS: ReadonlySet<string> = new Set(['CredentialRevoked', 'NodeRevoked', 'ApplicationRevoked', 'AssociationRevoked']);

/** The reason a dependent inherits from a parent's ending: its revocation reason, or cessation when it expired. */
const inheritedReason = (ending: Ending): RevocationReason =>
  REVOCATIONS.has(ending.type) && ending.reason !== undefined ? (ending.reason as RevocationReason) : 'cessationOfOperation';

/**
 * The process manager's lookups, from its own tables as of the event (dependents, endings, associations). An
 * association configured before this read model had its table (an older read-model database) is read from the
 * engine instead.
 */
export const reactionsWith = (engine: CommandSink, db: () => Database.Database) => (e: DecodedEvent) =>
  reactionsTo(e, {
    dependents: (parent, relation) => lookup(db(), parent, relation),
    association: async (id) => associationLinks(db(), id) ?? linksOf(db(), await engine.view('association', id)),
    ended: async (kind, id) => {
      const ending = endingOf(db(), streamIdOf(kind, id));
      return ending === undefined ? undefined : inheritedReason(ending);
    },
    compromised: async (kind, id) => {
      const ending = endingOf(db(), streamIdOf(kind, id));
      return ending !== undefined && REVOCATIONS.has(ending.type) && (ending.reason === 'keyCompromise' || ending.raised?.reason === 'keyCompromise');
    },
    waitingFor: (kind, id) => waitingFor(db(), kind, id),
    cseIdOf: (nodeId) => cseIdOfNode(db(), streamIdOf('node', nodeId)),
    cseIdOfCredential: (credentialId) => cseIdOfCredential(db(), streamIdOf('credential', credentialId)),
    cseIdHeldNow: async (nodeId) => ((await engine.view('node', nodeId)).context as unknown as NodeContext).cseId,
    ownerOf: (kind, id) => {
      const owner = ownerOfIdentifier(db(), kind, id);
      return owner === undefined ? undefined : { nodeId: idOf(owner.node), ...(owner.application !== undefined ? { appId: idOf(owner.application) } : {}) };
    },
    applicationsEnrolledWith: (credentialId) => applicationsEnrolledWith(db(), streamIdOf('credential', credentialId)).map(idOf),
    successorInUse: (credentialId, appId) => successorInUse(engine, credentialId, appId),
    credentialOfApplicationNow: async (appId) => ((await engine.view('application', appId)).context as unknown as ApplicationContext).credentialId,
    rotationSuccessorNow: async (credentialId) => ((await engine.view('credential', credentialId)).context as unknown as CredentialContext).successorId,
  });

/** The dependents graph's rows, or a lookup kept beside it (reaction-context.ts). */
const lookup = (d: Database.Database, parent: string, relation: Lookup): string[] => {
  switch (relation) {
    case PROVISIONED_ON_BOOTSTRAP:
      return provisionedOnBootstrap(d, parent);
    case SUBSCRIPTION_OF_NODE: {
      const subscription = subscriptionOfNode(d, parent);
      return subscription === undefined ? [] : [subscription];
    }
    case CERTIFIED_BY_ITS_SUBSCRIPTIONS_CA:
      return certifiedByItsSubscriptionsCa(d, parent);
    case SUBSCRIPTIONS_LEFT_BY_NODE:
      return subscriptionsLeftBy(d, parent);
    case CREDENTIAL_OF_APPLICATION: {
      const credential = credentialOfApplication(d, parent);
      return credential === undefined ? [] : [credential];
    }
    default:
      return dependentsOf(d, parent, relation);
  }
};

/**
 * Read from the engine, as the credentials stand now rather than as of the event: whether the App-ID can move onto
 * a successor depends on that successor's state when the move is decided, which a rebuild of this read model must
 * see too (a successor revoked since leaves the App-ID's enrolment to end, not to move onto it). Held as the
 * rotation's end judges it (provisioned, not ended, inside its validity now, at the end of its chain); the App-ID's
 * machine decides the move again, and the end follows its refusal.
 */
const successorInUse = async (engine: CommandSink, credentialId: string, appId: string): Promise<string | undefined> => {
  const { successorId } = (await engine.view('credential', credentialId)).context as unknown as CredentialContext;
  if (successorId === undefined) return undefined;
  const end = await rotationChainEnd(engine, successorId);
  const owner = (end.view.context as unknown as CredentialContext).owner;
  return owner?.kind === 'app' && owner.id === appId && heldAt(end.view, engine.clock.now().getTime()) ? end.id : undefined;
};

const linksOf = (d: Database.Database, view: { context: unknown }): AssociationLinks => {
  const { credentialId, nodeId, registree, establishedAt } = view.context as AssociationContext;
  return {
    ...(credentialId !== undefined ? { credentialId } : {}),
    ...(credentialId !== undefined && isApplicationCredential(d, streamIdOf('credential', credentialId)) ? { onApplicationCredential: true as const } : {}),
    ...(nodeId !== undefined ? { nodeId } : {}),
    ...(registree?.kind === 'ae' ? { application: { appId: registree.appId, aeId: registree.id } } : {}),
    ...(registree?.kind === 'cse' ? { cseId: registree.id } : {}),
    established: establishedAt !== undefined,
  };
};
