import type { RevocationReason } from '../../domain/events/index.ts';
import type { EntityKind } from '../../domain/streams.ts';
import { BrokenHistoryError } from '../../machines/index.ts';
import type { AssociationLinks } from './associations.ts';
import type { Relation } from './dependents.ts';
import type { IdentifierKind } from './identifiers.ts';
import type { Unresolved } from './reaction.ts';

/**
 * The credentials remotely provisioned on a bootstrap credential (review 288): followed on its keyCompromise alone,
 * so kept beside the dependents graph (which shows what follows a parent for every reason), not in it.
 */
export const PROVISIONED_ON_BOOTSTRAP = 'provisioned-on-bootstrap';

/**
 * Review 287, looked up beside the dependents graph as PROVISIONED_ON_BOOTSTRAP is (a node's enrolment under another
 * subscription alone follows them): of a node (its stream id), the subscription (a stream id, none before its first
 * enrolment) of its latest enrolment as of the event, and its credentials whose certificate that subscription's CA
 * issued (the recorded issuingCaCertifies is its M2M-Sub-ID, else the recorded issuingCa is, review 355; never the
 * shared CA `default`).
 */
export const SUBSCRIPTION_OF_NODE = 'subscription-of-node';
export const CERTIFIED_BY_ITS_SUBSCRIPTIONS_CA = 'certified-by-its-subscriptions-ca';
/** Review 292: of a node (its stream id), the subscriptions (stream ids) it was enrolled under and left, as of the event. */
export const SUBSCRIPTIONS_LEFT_BY_NODE = 'subscriptions-left-by-node';

/**
 * Review 343, looked up beside the dependents graph as SUBSCRIPTION_OF_NODE is: of an App-ID (its stream id), the
 * credential (a stream id) it is enrolled with as of the event, none when with none. Its move onto another revokes its
 * instances authenticated with this one (application-moved.ts).
 */
export const CREDENTIAL_OF_APPLICATION = 'credential-of-application-enrolled';

/** A lookup of the dependents graph, or one kept beside it. */
export type Lookup =
  | Relation
  | typeof PROVISIONED_ON_BOOTSTRAP
  | typeof SUBSCRIPTION_OF_NODE
  | typeof CERTIFIED_BY_ITS_SUBSCRIPTIONS_CA
  | typeof SUBSCRIPTIONS_LEFT_BY_NODE
  | typeof CREDENTIAL_OF_APPLICATION;

/**
 * The lookups a reaction needs, as of the event it reacts to: the cascade's own read model, which holds every
 * event before it (issue 15 item 5). That is enough in global order: a parent that ends before the event is seen
 * here, one that ends after it finds the event's entity among its dependents when its own ending is handled.
 */
export interface ReactionContext {
  dependents(parent: string, relation: Lookup): string[];
  /** What the association derives from and whether it was established. */
  association(id: string): Promise<AssociationLinks>;
  /** When the entity has ended: the reason a dependent inherits (its revocation reason, or cessation when it expired). */
  ended(kind: EntityKind, id: string): Promise<RevocationReason | undefined>;
  /**
   * Whether the entity's key was compromised: revoked for keyCompromise, first or by a later raise (which `ended` does
   * not give: a dependent inherits the first reason). A remote provisioning stored after it follows it (review 308).
   */
  compromised(kind: EntityKind, id: string): Promise<boolean>;
  /** The node (and App-ID) a CSE-ID or AE-ID belongs to, as ids; undefined while no event has said. */
  ownerOf(kind: IdentifierKind, id: string): { readonly nodeId: string; readonly appId?: string } | undefined;
  /** Credentials (stream ids) issued to a CSE-ID or AE-ID while no event had said whose it is. */
  waitingFor(kind: IdentifierKind, id: string): string[];
  /** The CSE-ID a credential that names its node was issued to (review 44); undefined for any other credential. */
  cseIdOfCredential(credentialId: string): string | undefined;
  /**
   * The CSE-ID of the node's latest enrolment, as of the event; undefined before its first (an association stored
   * after its node moved to another CSE-ID is re-checked on arrival against it).
   */
  cseIdOf(nodeId: string): string | undefined;
  /**
   * The CSE-ID the node holds now (read from the engine, not as of the event): a rebuild, or a cascade that is
   * behind, must not revoke an association under a CSE-ID the node has come back to since (A, then B, then A again).
   * A hint only: the association's machine decides it again at the commit (registreeMovedAway, RS-01).
   */
  cseIdHeldNow(nodeId: string): Promise<string | undefined>;
  /** The App-IDs (ids) enrolled with this credential, as of the event. */
  applicationsEnrolledWith(credentialId: string): string[];
  /**
   * The credential that took over from this one by rotation and is held now, of the App-ID's own (following the
   * rotations' chain past successors superseded in turn); undefined when there is none.
   */
  successorInUse(credentialId: string, appId: string): Promise<string | undefined>;
  /**
   * Review 347: the credential the App-ID is enrolled with now (read from the engine, not as of the event), undefined
   * when with none: a rebuild, or a cascade that is behind, must not revoke an instance on a credential the App-ID has
   * come back to since (A, then B, then A again), as cseIdHeldNow for a node's CSE-ID.
   */
  credentialOfApplicationNow(appId: string): Promise<string | undefined>;
  /**
   * The successor the rotation of this credential names now (read from the engine: set at the rotation's start,
   * cleared at its abandonment), undefined when none: what the association machine's appCredentialIsEnrolled lets an
   * App-ID enrolled with this credential use beside it.
   */
  rotationSuccessorNow(credentialId: string): Promise<string | undefined>;
}

/** A dependent's lookup, or the broken history it met; any other failure is no one dependent's and propagates. */
export const orUnresolved = async <T>(lookup: () => Promise<T>): Promise<T | Unresolved> => {
  try {
    return await lookup();
  } catch (error) {
    if (error instanceof BrokenHistoryError) return { unresolved: error };
    throw error;
  }
};

/**
 * Whether a node, or else an App-ID, has ended, and why. One at a time, when reached: a lookup started and never
 * awaited would reject unobserved (fuzz-stored-events).
 */
export const endedOwner = async (ctx: ReactionContext, nodeId: string | undefined, appId: string | undefined): Promise<RevocationReason | undefined> =>
  (nodeId === undefined ? undefined : await ctx.ended('node', nodeId)) ?? (appId === undefined ? undefined : await ctx.ended('application', appId));

/** The first parent of an association that has ended, and why: the association must end with it. */
export const endedParent = async (links: AssociationLinks, ctx: ReactionContext): Promise<RevocationReason | undefined> =>
  (links.credentialId === undefined ? undefined : await ctx.ended('credential', links.credentialId)) ??
  (await endedOwner(ctx, links.nodeId, links.application?.appId));
