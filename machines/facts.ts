import type { DomainEvent, Owner } from '../domain/events/index.ts';
import { streamIdOf, type EntityKind, type EntityView } from '../domain/streams.ts';
import type { ApplicationContext, AssociationContext, CredentialContext, NodeContext } from './contexts.ts';
import { supersededInTurn } from './credential.machine.ts';
import { isNodeServiceCredential } from './guards.ts';
import type { FactName, Facts, FactSources } from './types.ts';

/**
 * A fact's source and, when the event's own data names it (not the entity's state, not another fact), that field's
 * path in the data: a command naming its own target there is refused naming the field (adapters/engine/decide.ts).
 */
type NamedSources = Partial<Record<FactName, { readonly kind: EntityKind; readonly id: string; readonly field?: string }>>;

/**
 * The entity that holds a credential's owner (RS-01, review 41), with the owner's field that names it: a node's own
 * node, the node a CSE-ID names, the App-ID, the App-ID an AE-ID names. None for an owner stored before it named its
 * holder (nothing is read for it, as it was decided), nor for no owner.
 */
export const holderSourceOf = (owner: Owner | undefined): { readonly kind: 'node' | 'application'; readonly id: string; readonly field: string } | undefined => {
  if (owner === undefined) return undefined;
  if (owner.kind === 'node') return { kind: 'node', id: owner.id, field: 'id' };
  if (owner.kind === 'app') return { kind: 'application', id: owner.id, field: 'id' };
  if (owner.kind === 'cse') return owner.nodeId === undefined ? undefined : { kind: 'node', id: owner.nodeId, field: 'nodeId' };
  return owner.appId === undefined ? undefined : { kind: 'application', id: owner.appId, field: 'appId' };
};

/**
 * The other entities a guard needs to see before accepting an event. The engine reads them at decision time;
 * replay reads them as they stood at the event's global position, so cross-entity rules are re-checked too.
 */
const factSourcesOf = (event: DomainEvent, context: unknown): NamedSources => {
  switch (event.type) {
    case 'NodeRegistered':
      // The bootstrap credential it names, which must not be recorded yet (bootstrapNotYetRecorded, review 288): it is
      // issued after its node exists (ownerIsLive), so one recorded already is another's, or this node's by no right.
      // Read at the commit, so an issue of that id that commits first refuses the registration.
      return event.data.bootstrapCredentialId === undefined
        ? {}
        : { bootstrap: { kind: 'credential', id: event.data.bootstrapCredentialId, field: 'bootstrapCredentialId' } };
    case 'NodeEnrolled': {
      // A move (RS-17) also reads the subscription the node moves off, which must still serve it (review 234): a
      // terminated or lapsed one expires its nodes, and a node moved after it ended would escape that expiry.
      const current = (context as NodeContext).subscriptionId;
      return {
        subscription: { kind: 'subscription', id: event.data.subscriptionId, field: 'subscriptionId' },
        ...(current !== undefined && current !== event.data.subscriptionId ? { currentSubscription: { kind: 'subscription' as const, id: current } } : {}),
      };
    }
    case 'NodeEnrolmentExpired':
      return { subscription: { kind: 'subscription', id: event.data.subscriptionId, field: 'subscriptionId' } };
    case 'CredentialIssued': {
      const { owner, predecessorId } = event.data;
      const sources: NamedSources = {};
      const holder = holderSourceOf(owner);
      if (holder !== undefined) sources.owner = { ...holder, field: `owner.${holder.field}` };
      if (predecessorId !== undefined) sources.predecessor = { kind: 'credential', id: predecessorId, field: 'predecessorId' };
      return sources;
    }
    case 'CredentialProvisioned': {
      const sources: NamedSources = {};
      // Only remote provisioning rests on its bootstrap credential (bootstrapIsUsable): a pre-provisioned one that
      // names one takes no dependency on it (no conflict, no claim).
      if (event.data.method === 'remote-provisioning' && event.data.bootstrapCredentialId !== undefined) {
        sources.bootstrap = { kind: 'credential', id: event.data.bootstrapCredentialId, field: 'bootstrapCredentialId' };
      }
      // Its owner's holder, read as issuing reads it (ownerIsLive, review 165): a revocation of the node or App-ID
      // that commits first refuses the provisioning. Through the node, a node's service credential also reads the
      // subscription it is served under (subscriptionServes, derivedSourcesOf), and a CSE-ID's credential the CSE-ID
      // its node holds now (cseIdHeldByItsNode, review 44). Not named by the event's data: no field.
      const holder = holderSourceOf((context as CredentialContext).owner);
      if (holder !== undefined) sources.owner = { kind: holder.kind, id: holder.id };
      return sources;
    }
    case 'CredentialRotationStarted': {
      const previous = (context as CredentialContext).successorId;
      // Its owner's holder too, read as provisioning reads it (ownerIsLive, review 314): a rotation started after
      // revokeNode or revokeApplication, before the cascade revoked the credential, was recorded. Not named by the
      // event's data: no field.
      const holder = holderSourceOf((context as CredentialContext).owner);
      return {
        successor: { kind: 'credential', id: event.data.successorId, field: 'successorId' },
        ...(previous !== undefined ? { previousSuccessor: { kind: 'credential' as const, id: previous } } : {}),
        ...(holder !== undefined ? { owner: { kind: holder.kind, id: holder.id } } : {}),
      };
    }
    case 'CredentialRotationAbandoned':
      return { successor: { kind: 'credential', id: event.data.successorId, field: 'successorId' } };
    case 'CredentialRevoked': {
      // HLR-212 (handedOver, review 31): superseded while a rotation stands only if the node holds the successor, or
      // where it handed over to (handoverSourceOf). Nothing for any other reason.
      const successorId = (context as CredentialContext).successorId;
      return event.data.reason === 'superseded' && successorId !== undefined ? { successor: { kind: 'credential', id: successorId } } : {};
    }
    case 'ApplicationEnrolled': {
      // A move also reads the credential it moves from: only a supersession hands the App-ID on (seed 003 11.2.2).
      const current = (context as ApplicationContext).credentialId;
      return {
        credential: { kind: 'credential', id: event.data.credentialId, field: 'credentialId' },
        ...(current !== undefined && current !== event.data.credentialId ? { currentCredential: { kind: 'credential' as const, id: current } } : {}),
      };
    }
    case 'ApplicationEnrolmentEnded':
      return { credential: { kind: 'credential', id: event.data.credentialId, field: 'credentialId' } };
    case 'AssociationConfigured': {
      const { credentialId, nodeId, registree } = event.data;
      const sources: NamedSources = {
        credential: { kind: 'credential', id: credentialId, field: 'credentialId' },
        node: { kind: 'node', id: nodeId, field: 'nodeId' },
      };
      if (registree.kind === 'ae') sources.application = { kind: 'application', id: registree.appId, field: 'registree.appId' };
      return sources;
    }
    case 'AssociationEstablished': {
      // The configuration's facts again (RS-01, 11.2.2): the node for the CSE-ID it holds now, an AE's App-ID.
      const { credentialId, nodeId, registree } = context as AssociationContext;
      return {
        ...(credentialId === undefined ? {} : { credential: { kind: 'credential' as const, id: credentialId } }),
        ...(nodeId === undefined ? {} : { node: { kind: 'node' as const, id: nodeId } }),
        ...(registree?.kind === 'ae' ? { application: { kind: 'application' as const, id: registree.appId } } : {}),
      };
    }
    case 'AssociationRevoked': {
      // RS-01 (registreeMovedAway, review 31): `affiliationChanged` of a CSE Registree reads its node, for the CSE-ID it
      // holds at the commit, and its credential, whose revocation for that reason it may inherit. Nothing otherwise.
      const { credentialId, nodeId, registree } = context as AssociationContext;
      if (event.data.reason !== 'affiliationChanged' || registree?.kind !== 'cse') return {};
      return {
        ...(credentialId === undefined ? {} : { credential: { kind: 'credential' as const, id: credentialId } }),
        ...(nodeId === undefined ? {} : { node: { kind: 'node' as const, id: nodeId } }),
      };
    }
    case 'PseudonymRotated':
      return { node: { kind: 'node', id: event.data.nodeId, field: 'nodeId' } };
    // The cascade's bookkeeping (projections/cascade/bookkeeping.ts) read the association it names (review 234): one
    // established that names this node, credential or App-ID's AE, or the id alone let a forged record list anything.
    case 'NodeAssociated':
    case 'NodeAssociationReleased':
    case 'CredentialAssociated':
    case 'CredentialAssociationReleased':
    case 'ApplicationInstanceAssociated':
    case 'ApplicationInstanceReleased':
      return { association: { kind: 'association', id: event.data.associationId, field: 'associationId' } };
    default:
      return {};
  }
};

/**
 * Facts named by another fact, read once it is: an association's node's subscription and factory (bootstrap)
 * credential, a new credential's node's factory credential (keyIsNew), and the subscription of the node a service
 * credential is issued to or provisioned into. Each subscription is the one the node is served under (seed 003, 11.2.1), not the
 * node's word for it, which lags a termination until the cascade ends the enrolment; and the factory credential is
 * compared by key, not only by id. An AE
 * Registree's association also reads the credential its App-ID is enrolled with (seed 003, 11.2.2), which the App-ID
 * names: its authorisation ends with that credential, ahead of the cascade that ends the enrolment.
 */
const derivedSourcesOf = (event: DomainEvent, context: unknown, facts: Facts): FactSources => {
  if (event.type === 'CredentialIssued') {
    // Its owner's node's factory (bootstrap) credential, whose key a new one may not carry (keyIsNew, review 195): named
    // by the node read as the owner's holder. Not for the bootstrap credential itself, issued after its node names it.
    const node = facts.owner?.context as NodeContext | undefined;
    const bootstrapId = node?.bootstrapCredentialId;
    const sources: FactSources = bootstrapId === undefined || bootstrapId === event.data.credentialId ? {} : { bootstrap: { kind: 'credential', id: bootstrapId } };
    // A node's service credential also reads the subscription its node is enrolled under now, which it ends by
    // (endsWithinSubscription, review 205), as provisioning reads it. A node under none names none.
    if (isNodeServiceCredential(event.data) && node?.subscriptionId !== undefined) sources.subscription = { kind: 'subscription', id: node.subscriptionId };
    return sources;
  }
  if (event.type === 'CredentialProvisioned') {
    // Only a node's service credential is held to its subscription (subscriptionServes): a bootstrap or an App-ID's
    // credential reads its owner's holder alone. A node under no subscription (never enrolled) names none.
    if (!isNodeServiceCredential(context as CredentialContext)) return {};
    const subscriptionId = (facts.owner?.context as NodeContext | undefined)?.subscriptionId;
    return subscriptionId === undefined ? {} : { subscription: { kind: 'subscription', id: subscriptionId } };
  }
  if (event.type !== 'AssociationConfigured' && event.type !== 'AssociationEstablished') return {};
  const node = facts.node?.context as NodeContext | undefined;
  const sources: FactSources = {};
  if (node?.subscriptionId !== undefined) sources.subscription = { kind: 'subscription', id: node.subscriptionId };
  if (node?.bootstrapCredentialId !== undefined) sources.bootstrap = { kind: 'credential', id: node.bootstrapCredentialId };
  // An AE Registree's App-ID (read only for one) is authorised while the credential it is enrolled with stands
  // (seed 003, 11.2.2): that credential is read too, as the App-ID names it at this decision.
  const enrolledWith = (facts.application?.context as ApplicationContext | undefined)?.credentialId;
  if (enrolledWith !== undefined) sources.applicationCredential = { kind: 'credential', id: enrolledWith };
  return sources;
};

/**
 * The key a decision's events certify (SER-010): a CredentialIssued's fingerprint, which the store then binds to its
 * stream (AppendOptions.certifiesKey), so that a concurrent issue of the same key to another credential conflicts.
 */
export const certifiedKeyOf = (events: readonly DomainEvent[]): string | undefined => {
  for (const event of events) if (event.type === 'CredentialIssued') return event.data.fingerprint;
  return undefined;
};

/** How many rotations a revocation as superseded follows from its successor (a longer chain ends where it was cut). */
const MAX_HANDOVERS = 64;

/**
 * The next link of a rotation chain for a revocation as superseded (HLR-212, handedOver): from the successor (or the
 * last link read), one superseded in turn hands over to its own successor, read as `handover`; undefined once the
 * chain ends. Each link is read, so the engine holds the append to all of them, and replay reads them as they stood.
 */
const handoverSourceOf = (event: DomainEvent, facts: Facts): FactSources | undefined => {
  if (event.type !== 'CredentialRevoked' || !('successor' in facts)) return undefined;
  const link = 'handover' in facts ? facts.handover : facts.successor;
  if (!supersededInTurn(link)) return undefined;
  return { handover: { kind: 'credential', id: (link!.context as unknown as CredentialContext).successorId! } };
};

/** Reads another entity for a guard; undefined when it does not exist (or, for replay, did not yet). */
export type FactReader = (kind: EntityKind, id: string) => EntityView | undefined;

/**
 * The credential (its id) another issue certified a key on (SER-010): the store's index of certified keys for the
 * engine, replay's as of the event's position; undefined when none did.
 */
export type KeyHolderReader = (fingerprint: string) => string | undefined;

/**
 * The credential whose issue certified the key a new one carries (keyNeverCertified), as `holder` names it: not the
 * credential itself (an earlier attempt of its own issue, which the store binds to its stream). One indexed read.
 */
const keySourceOf = (event: DomainEvent, holder: string | undefined): FactSources =>
  event.type !== 'CredentialIssued' || holder === undefined || holder === event.data.credentialId ? {} : { keyHolder: { kind: 'credential', id: holder } };

/**
 * Reads each of `sources` into `facts`. At module level rather than a closure of gatherFacts, which runs for every
 * event a replay judges: the loader (tsx, keepNames) names each closure as it is made, a defineProperty per event.
 */
const readInto = (facts: Facts, sources: FactSources, read: FactReader): void => {
  for (const name in sources) {
    const source = sources[name as FactName]!;
    facts[name as FactName] = read(source.kind, source.id);
  }
};

/**
 * The facts an event's guards need, each read by `read`: the one place that maps fact names to entities. `keyHolder`
 * names the credential a key was certified for (required: a reader that could not tell would pass every key).
 */
export const gatherFacts = (event: DomainEvent, context: unknown, read: FactReader, keyHolder: KeyHolderReader): Facts => {
  const facts: Facts = {};
  readInto(facts, factSourcesOf(event, context), read);
  readInto(facts, derivedSourcesOf(event, context, facts), read);
  if (event.type === 'CredentialIssued') readInto(facts, keySourceOf(event, keyHolder(event.data.fingerprint)), read);
  for (let hop = 0, next = handoverSourceOf(event, facts); next !== undefined && hop < MAX_HANDOVERS; hop++, next = handoverSourceOf(event, facts)) readInto(facts, next, read);
  return facts;
};

/** Loads each of `sources` into `facts`, each entity once per decision (`views`); at module level as readInto is. */
const loadInto = async (
  facts: Facts,
  views: Map<string, EntityView | undefined>,
  sources: NamedSources,
  load: (kind: EntityKind, id: string, field?: string) => Promise<EntityView | undefined>,
): Promise<void> => {
  for (const name in sources) {
    const source = sources[name as FactName]!;
    const streamId = streamIdOf(source.kind, source.id);
    if (!views.has(streamId)) views.set(streamId, await load(source.kind, source.id, source.field));
    facts[name as FactName] = views.get(streamId);
  }
};

/**
 * The same for readers that go to a store (the engine, replay of one entity): every source is loaded first. `load`
 * is told the event's data field that named the entity, when one did (`owner.nodeId`, `successorId`).
 */
export const gatherFactsAsync = async (
  event: DomainEvent,
  context: unknown,
  load: (kind: EntityKind, id: string, field?: string) => Promise<EntityView | undefined>,
  keyHolder: (fingerprint: string) => Promise<string | undefined>,
): Promise<Facts> => {
  const views = new Map<string, EntityView | undefined>();
  const facts: Facts = {};
  await loadInto(facts, views, factSourcesOf(event, context), load);
  await loadInto(facts, views, derivedSourcesOf(event, context, facts), load);
  if (event.type === 'CredentialIssued') await loadInto(facts, views, keySourceOf(event, await keyHolder(event.data.fingerprint)), load);
  for (let hop = 0, next = handoverSourceOf(event, facts); next !== undefined && hop < MAX_HANDOVERS; hop++, next = handoverSourceOf(event, facts)) {
    await loadInto(facts, views, next, load);
  }
  return facts;
};
