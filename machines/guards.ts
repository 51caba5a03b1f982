import type { Owner, Registree } from '../domain/events/index.ts';
import type { ApplicationContext, AssociationContext, CredentialContext, NodeContext, SubscriptionContext } from './contexts.ts';
import { isWithin, type EntityView, type MachineEvent } from './types.ts';

/** Rules shared by several machines. Each is a pure predicate over the event and its facts. */

/**
 * A credential may back an association (or authenticate a remote provisioning) only while enrolled or associated
 * and inside its validity window: never from a revoked or expired credential (seed 003, 11.3.2; SER-010). Nor once
 * the overlap of a rotation it started has ended (HLR-212): it hands over to its successor then, and the expiry
 * scheduler's record of that (revoked as superseded, or the rotation abandoned when the node does not hold the
 * successor, which makes it usable again) may lag; found in review 26, new associations on it were accepted until then.
 */
export const credentialUsableAt = (view: EntityView | undefined, at: number): boolean => {
  if (view === undefined) return false;
  if (view.state !== 'enrolled' && view.state !== 'associated') return false;
  const credential = view.context as unknown as CredentialContext;
  if (credential.overlapEndsAt !== undefined && at >= credential.overlapEndsAt) return false;
  return isWithin(at, credential);
};

/**
 * Whether the credential `other` is owned by `owner`: the same kind and id, and the same holder where both name one
 * (review 41: a CSE-ID's credential of one node is not another's that took the CSE-ID; one stored before holders
 * were named matches either).
 */
export const sameOwner = (other: EntityView | undefined, owner: Owner | undefined): boolean => {
  const theirs = (other?.context as CredentialContext | undefined)?.owner;
  const sameHolder = (a: string | undefined, b: string | undefined): boolean => a === undefined || b === undefined || a === b;
  return (
    owner !== undefined && theirs !== undefined && theirs.kind === owner.kind && theirs.id === owner.id &&
    sameHolder(theirs.nodeId, owner.nodeId) && sameHolder(theirs.appId, owner.appId)
  );
};

/**
 * Whether a successor's owner may take over from its predecessor's (HLR-212; review 44, RS-01): `sameOwner`, and a
 * successor names a holder (the node of a CSE-ID, the App-ID of an AE-ID) only where its predecessor names the same.
 * A predecessor stored before owners named their holder (review 41) names none, and nothing the machine reads tells
 * which node or App-ID held the identifier when it was issued: the CSE-ID may have moved to another node since (a
 * renumbering), whose successor would take over the old node's credential. So the conservative rule: a successor
 * that names a holder never takes over from one that names none; such a credential is replaced by issuing a new one
 * (no predecessor) and revoking it. One that names none (stored before) takes over as it was decided.
 */
export const successorHolderMatches = (predecessor: Owner | undefined, successor: Owner | undefined): boolean => {
  if (predecessor === undefined || successor === undefined) return false;
  const carries = (before: string | undefined, after: string | undefined): boolean => after === undefined || before === after;
  return carries(predecessor.nodeId, successor.nodeId) && carries(predecessor.appId, successor.appId);
};

/**
 * Seed 003, 11.2.1: a bootstrap credential authenticates the remote provisioning of a credential for `owner` at `at`
 * while it is usable (credentialUsableAt) and `owner`'s own: the machine's guard at the record, and the Enrolment
 * Function's hello before any run starts, by this one rule.
 */
export const bootstrapUsableFor = (bootstrap: EntityView | undefined, owner: Owner | undefined, at: number): boolean =>
  credentialUsableAt(bootstrap, at) && sameOwner(bootstrap, owner);

/**
 * Review 288 (machines v11): the credential a remote provisioning authenticates on is its node's factory credential, not
 * merely one of the owner's: of purpose bootstrap, and the one the node registered with when it registered one
 * (`registered`, its bootstrapCredentialId). A service credential of the same node passed bootstrapUsableFor. The
 * machine's guard (bootstrapIsFactoryCredential) and the Enrolment Function's hello, which looks up the registered one,
 * by this one rule.
 */
export const isFactoryCredential = (bootstrap: EntityView | undefined, registered: string | undefined): boolean => {
  const c = bootstrap?.context as CredentialContext | undefined;
  return c?.purpose === 'bootstrap' && (registered === undefined || c.credentialId === registered);
};

export const isOneOf = (view: EntityView | undefined, states: readonly string[]): boolean =>
  view !== undefined && states.includes(view.state);

/**
 * Seed 003, 11.2.1: a subscription serves its nodes at `at` while it is itself active and within its validity, not
 * only while the nodes say so (a terminated or lapsed one leaves them enrolled until the cascade ends their enrolment).
 */
export const subscriptionServesAt = (view: EntityView | undefined, at: number): boolean =>
  isOneOf(view, ['active']) && isWithin(at, view!.context as unknown as SubscriptionContext);

/**
 * Seed 003, 11.2.1 (review 197): what a subscription serves ends by the subscription's end, so its lapse and the
 * expiry coincide: `endsAt` at or before its notAfter. An absent subscription is subscriptionServesAt's to refuse.
 */
export const endsBySubscription = (endsAt: number, subscription: EntityView | undefined): boolean => {
  if (subscription === undefined) return true;
  const notAfter = (subscription.context as unknown as SubscriptionContext).notAfter;
  return typeof notAfter === 'number' && endsAt <= notAfter;
};

/**
 * RS-01: a CSE Registree is the CSE-ID its node holds now (the one of its last enrolment), not one it held when the
 * association was configured: a CSE-ID moved to another node (a device replacement) is that node's from then on. An
 * AE Registree holds no CSE-ID of its node's; its credential's owner is what binds it (credentialBelongsToRegistree).
 * The same rule says when a CSE Registree's association may be revoked as `affiliationChanged` (registreeMovedAway).
 */
export const registreeHeldByNode = (node: EntityView | undefined, registree: Registree): boolean =>
  registree.kind !== 'cse' || nodeHoldsCseId(node, registree.id);

/** Whether the node holds this CSE-ID now: the one of its last enrolment (RS-01). */
export const nodeHoldsCseId = (node: EntityView | undefined, cseId: string): boolean => (node?.context as NodeContext | undefined)?.cseId === cseId;

/** Seed 003, 11.2.2: an AE Registree acts under an enrolled App-ID; a CSE Registree needs no application. */
export const registreeApplicationEnrolled = (application: EntityView | undefined, registree: Registree): boolean =>
  registree.kind === 'cse' || isOneOf(application, ['enrolled', 'associated']);

/**
 * Seed 003, 11.2.2 (review 249): a credential owned by an App-ID authenticates its AEs only if it is of purpose
 * application and the one the App-ID is enrolled with now (`credentialId` is the association's), or the successor a
 * rotation of that one names now (its `successorId`, set at the rotation's start and cleared at its abandonment):
 * during the overlap the AEs move onto it before the handover moves the App-ID (HLR-212; review 254 found every AE cut
 * off at each rotation without it, review 255 a credential that merely named the enrolled one its predecessor taken
 * with no rotation at all). Any other owner is not this rule's (credentialBelongsToRegistree decides it). The
 * association machine's appCredentialIsEnrolled, and the rule a Registrar's hello can run before it.
 */
export const appCredentialIsEnrolled = (
  credential: EntityView | undefined,
  application: EntityView | undefined,
  enrolledCredential: EntityView | undefined,
  credentialId: string | undefined,
): boolean => {
  const c = credential?.context as CredentialContext | undefined;
  if (c?.owner?.kind !== 'app') return true;
  const enrolledWith = (application?.context as ApplicationContext | undefined)?.credentialId;
  if (c.purpose !== 'application' || enrolledWith === undefined || credentialId === undefined) return false;
  const enrolled = enrolledCredential?.context as unknown as CredentialContext | undefined;
  const rotatingTo = enrolled?.credentialId === enrolledWith ? enrolled.successorId : undefined;
  return credentialId === enrolledWith || credentialId === rotatingTo;
};

/**
 * Seed 003, 11.2.2: an App-ID's authorisation ends with the credential it is enrolled with, so an AE Registree acts
 * under it only while that credential stands at `at`: the one the App-ID names, not ended (the states its enrolment
 * accepts: issued, provisioned or associated) and inside its validity window [notBefore, notAfter). Not only once
 * the expiry scheduler records its end and the cascade ends the enrolment (found in review 26: an AE association
 * was configured under an App-ID whose credential had passed its notAfter). A CSE Registree needs no application.
 */
export const registreeApplicationCredentialStands = (
  application: EntityView | undefined,
  credential: EntityView | undefined,
  registree: Registree,
  at: number,
): boolean => {
  if (registree.kind === 'cse') return true;
  const enrolledWith = (application?.context as ApplicationContext | undefined)?.credentialId;
  const c = credential?.context as CredentialContext | undefined;
  return (
    enrolledWith !== undefined &&
    c?.credentialId === enrolledWith &&
    isOneOf(credential, ['initialized', 'enrolled', 'associated']) &&
    isWithin(at, c)
  );
};

/**
 * Whether putting this credential into its node is M2M service provisioning (seed 003, 11.2.1), which assumes a
 * subscription: a node's credential other than its factory (bootstrap) one. The factory credential belongs to the
 * node's Initialization (seed 004) and is what remote provisioning authenticates with, not a service it is given.
 */
export const isNodeServiceCredential = (credential: Pick<CredentialContext, 'owner' | 'purpose'> | undefined): boolean =>
  credential?.owner !== undefined && holdingNodeOf(credential.owner) !== undefined && credential.purpose !== 'bootstrap';

/**
 * The node a credential's owner is held by (RS-01; review 41): a node's own credential its node, a CSE's the node it
 * names as holding the CSE-ID. Undefined for an App-ID or AE, and for a CSE credential stored before owners named
 * their node (nothing read for it, as it was decided).
 */
export const holdingNodeOf = (owner: Owner): string | undefined =>
  owner.kind === 'node' ? owner.id : owner.kind === 'cse' ? owner.nodeId : undefined;

/**
 * RS-01 (review 41): whom a CSE-ID or AE-ID is held by is a fact of the decision. A credential issued to a CSE-ID is
 * bound to a live node that holds that CSE-ID now (registreeHeldByNode, the rule an association is decided by); one
 * issued to an AE-ID to a live App-ID it names. Read at the commit (machines/facts.ts `owner`), so a concurrent end
 * of the holder (revokeNode, an expired enrolment, revokeApplication) or a move of the CSE-ID conflicts and the
 * issue, or the provisioning (ownerIsLive again, review 165), is decided again, and refused. An owner stored before it named its holder reads nothing and stands as it
 * was decided.
 */
export const ownerHeldBy = (holder: EntityView | undefined, owner: Owner, live: readonly string[]): boolean => {
  if (owner.kind === 'cse') {
    if (owner.nodeId === undefined) return true;
    return isOneOf(holder, live) && nodeHoldsCseId(holder, owner.id);
  }
  if (owner.kind === 'ae') return owner.appId === undefined || isOneOf(holder, live);
  return isOneOf(holder, live);
};

/**
 * The association a bookkeeping event names, when it was established (review 234): recorded, and its handshake
 * recorded, whether it has ended since or not: the cascade records an establishment's bookkeeping after the fact, so
 * the association may have been revoked or have expired by then. One configured and never established (revoked from
 * `initialized`) was never live on anything; nor is one not recorded (a forged id).
 */
export const establishedAssociation = (view: EntityView | undefined): AssociationContext | undefined => {
  const association = view?.context as AssociationContext | undefined;
  return association?.establishedAt === undefined ? undefined : association;
};

/** The association has ended (revoked or expired): the cascade releases it from its node, credential and App-ID then only. */
export const associationHasEnded = (view: EntityView | undefined): boolean => isOneOf(view, ['revoked', 'expired']);

export const ms = (iso: string): number => Date.parse(iso);

/** Narrowing helper for guards: the data of the event when it has the given type. */
export const dataOf = <T extends MachineEvent['type']>(event: MachineEvent, type: T) =>
  (event.type === type ? event.data : undefined) as Extract<MachineEvent, { type: T }>['data'] | undefined;

type GuardArgs<C> = { context: C; event: MachineEvent };

/** Marks a guard that reads other entities (facts): skipped for trusted rebuilds of already-accepted history. */
export const factGuard =
  <C>(check: (args: GuardArgs<C>) => boolean) =>
  (args: GuardArgs<C>): boolean =>
    args.event.trusted === true || check(args);
