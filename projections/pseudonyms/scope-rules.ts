import { EVENT_DATA, EVENT_KIND, EVENT_TYPES, isEventType, type DomainEvent, type EventType } from '../../domain/events/index.ts';
import type { EntityKind } from '../../domain/streams.ts';
import type { PublicIdentities } from './identities.ts';
import { PUBLIC_DATA } from './public-data.ts';

/** The parts of a scope (PublicScope): its M2M subscriptions and its App-IDs. */
export type ScopePart = 'subscriptions' | 'appIds';

/** What a rule decides on: the scope's entries, and the fold as it stands once it observed the event. */
export interface ScopeAt {
  readonly subscriptions: ReadonlySet<string>;
  readonly appIds: ReadonlySet<string>;
  readonly identities: PublicIdentities;
}

/**
 * One entity kind's scope rule, stated once for its three readers: `admits` decides per event what a scoped stream
 * publishes (scopeFilter); `leavesOut` tells, before an event is decoded, that `admits` would leave it out, so the
 * stream passes it over undecoded; `parts` names the parts of a scope `admits` can say yes for on an event of `type`,
 * which the SSE adapter reads to refuse a stream filter no part of the token's scope can fill (scope-reach.ts). Kept
 * side by side so a change to one is made beside the others: a part missing from `parts` refuses a filter the stream
 * would fill, and a `leavesOut` that says yes where `admits` would not drops an event the stream publishes.
 */
export interface KindScopeRule {
  admits(event: DomainEvent, scope: ScopeAt): boolean;
  /**
   * Whether `admits` says no to every event of `type` (as stored: perhaps a type this version does not know) in the
   * stream of entity `id`, told from the id and the fold alone; no where they cannot tell (an event that may name an
   * association, which may be any node's). Decoded, one a newer version wrote ended a scoped stream at another
   * stakeholder's event, naming its position, on every reconnect (review 123). Asked only of an event the fold does not
   * read (IDENTITY_EVENT_TYPES), which changes the fold in nothing `admits` reads but what observing it lets go
   * (`appOfNext`); a decoded event's entity is its stream's (domain/stored.ts).
   */
  leavesOut(id: string, type: string, scope: ScopeAt): boolean;
  parts(type: EventType): readonly ScopePart[];
}

/** The field of an event's data as a string, when it has one (`associationId` is in events of several kinds). */
const field = (event: DomainEvent, name: string): string | undefined => {
  const value = (event.data as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
};

/** Whether events of `type` carry an association, read off their schema (an unknown shape counts as maybe). */
const namesAssociation = (type: EventType): 'always' | 'never' | 'maybe' => {
  const shape = (EVENT_DATA[type] as { shape?: Record<string, { safeParse(value: unknown): { success: boolean } }> }).shape;
  if (shape === undefined) return 'maybe';
  const association = shape['associationId'];
  if (association === undefined) return 'never';
  return association.safeParse(undefined).success ? 'maybe' : 'always';
};

/** `namesAssociation` of every type, read once: `leavesOut` asks it of each stored event a scoped stream pulls. */
const NAMES_ASSOCIATION: ReadonlyMap<string, 'always' | 'never' | 'maybe'> = new Map(EVENT_TYPES.map((type) => [type, namesAssociation(type)]));

/** `namesAssociation` of a stored type: a type this version does not know may name one. */
const storedNamesAssociation = (type: string): 'always' | 'never' | 'maybe' => (isEventType(type) ? NAMES_ASSOCIATION.get(type)! : 'maybe');

/**
 * Whether the node is, at this event, enrolled under one of the scope's subscriptions (the fold's membership: none for
 * a node moved and not rotated since, so `admits` and `leavesOut` both leave it out).
 */
const enrolledInScope = (scope: ScopeAt, nodeId: string | undefined): boolean => {
  if (nodeId === undefined) return false;
  const subscription = scope.identities.subscriptionOf(nodeId);
  return subscription !== undefined && scope.subscriptions.has(subscription);
};

const BY_SUBSCRIPTION: readonly ScopePart[] = ['subscriptions'];

/*
 * What a scope publishes (SER-025: one stakeholder's token does not observe another's nodes):
 * - the events of a scoped subscription's own stream, and of a scoped App-ID's application stream;
 * - the events of a node from its `NodeEnrolled` under a scoped subscription until it is enrolled under another: the
 *   end of its enrolment and what follows (the cascade ending what it owns) stay the subscription it was last enrolled
 *   under. A move to another subscription (a `NodeEnrolled` under it, RS-17) is no one's, nor is anything of the node
 *   until its next rotation (the rotation's reaction records one at once): the new subscription sees it from there,
 *   under names the old one never saw, and never while it has none (reviews 366, 369; node-history.ts);
 * - in that time, the events of what the fold says the node owns at that event: its credentials (a credential named
 *   with an association as that association's node's, as its frame names it), its associations, and the instance
 *   associations and releases of an application on one of them (`ApplicationInstanceAssociated`, `...Released`);
 * - the events naming no association of an App-ID's own credential (`app:App-ID`) and of an AE's (`ae:AE-ID@app:App-ID`)
 *   are that App-ID's: issue, provisioning, rotation, revocation, expiry. They belong to the Application Service
 *   Provider, not to a node: an AE credential used to be published as the node's it was first configured on, so its
 *   revocation went to that node's subscription after its use there ended, and never to the one of another node whose
 *   live association used it (review 56). Those naming an association (`CredentialAssociated`,
 *   `CredentialAssociationReleased`) are that association's node's, as for any credential.
 * Everything else is left out: a node's events before its first enrolment, a credential of no node and no App-ID, the
 * events of App-IDs and subscriptions not in the scope. Pseudonym events are never published.
 */
const SUBSCRIPTION: KindScopeRule = {
  admits: (event, scope) => scope.subscriptions.has(field(event, 'subscriptionId')!),
  leavesOut: (id, _type, scope) => !scope.subscriptions.has(id),
  parts: () => BY_SUBSCRIPTION,
};

const APPLICATION: KindScopeRule = {
  admits: (event, scope) => {
    const associationId = field(event, 'associationId');
    return (
      scope.appIds.has(field(event, 'appId')!) ||
      (associationId !== undefined && enrolledInScope(scope, scope.identities.nodeOf('association', associationId)))
    );
  },
  // Told by the App-ID alone when the event names no association, or when no node can be in scope.
  leavesOut: (id, type, scope) => !scope.appIds.has(id) && (storedNamesAssociation(type) === 'never' || scope.subscriptions.size === 0),
  // An application event naming an association is also that association's node's, so its subscription's.
  parts: (type) => (namesAssociation(type) === 'never' ? ['appIds'] : ['appIds', 'subscriptions']),
};

const NODE: KindScopeRule = {
  admits: (event, scope) => enrolledInScope(scope, field(event, 'nodeId')),
  leavesOut: (id, _type, scope) => !enrolledInScope(scope, id),
  // `NodeRegistered` is a node's first event (machines/node.machine.ts, only from `absent`), before any enrolment, so
  // no scope admits it: said to be a subscription's, a scoped `type=NodeRegistered` opened and stayed silent (review 263).
  parts: (type) => (type === 'NodeRegistered' ? [] : BY_SUBSCRIPTION),
};

const CREDENTIAL: KindScopeRule = {
  admits: (event, scope) => {
    const credentialId = field(event, 'credentialId')!;
    const associationId = field(event, 'associationId');
    if (associationId !== undefined) return enrolledInScope(scope, scope.identities.nodeOf('credential', credentialId, { associationId }));
    const appId = scope.identities.appOf(credentialId);
    return appId !== undefined ? scope.appIds.has(appId) : enrolledInScope(scope, scope.identities.nodeOf('credential', credentialId));
  },
  // An association named may be any node's: told only when it names none, or when no node can be in scope. Observing
  // the event may let the App-ID go (its credential's end was the last event observed), and `admits` then asks the node.
  leavesOut: (id, type, scope) => {
    const names = storedNamesAssociation(type);
    if (names !== 'never' && scope.subscriptions.size > 0) return false;
    if (names === 'always') return true;
    const appId = scope.identities.appOfNext(id);
    return appId !== undefined ? !scope.appIds.has(appId) : !enrolledInScope(scope, scope.identities.nodeOf('credential', id));
  },
  // Only an event that may name no association can be an App-ID's (its own credential's or an AE's).
  parts: (type) => (namesAssociation(type) === 'always' ? ['subscriptions'] : ['subscriptions', 'appIds']),
};

const ASSOCIATION: KindScopeRule = {
  admits: (event, scope) => enrolledInScope(scope, scope.identities.nodeOf('association', field(event, 'associationId')!)),
  // What observing the event may let go is the association itself, whose node is then none: left out all the same.
  leavesOut: (id, _type, scope) => !enrolledInScope(scope, scope.identities.nodeOf('association', id)),
  parts: () => BY_SUBSCRIPTION,
};

const PSEUDONYM: KindScopeRule = { admits: () => false, leavesOut: () => true, parts: () => [] };

/** The scope rule of events of `kind`; a kind added without one fails to compile here. */
export const scopeRuleOf = (kind: EntityKind): KindScopeRule => {
  switch (kind) {
    case 'subscription':
      return SUBSCRIPTION;
    case 'application':
      return APPLICATION;
    case 'node':
      return NODE;
    case 'credential':
      return CREDENTIAL;
    case 'association':
      return ASSOCIATION;
    case 'pseudonym':
      return PSEUDONYM;
    default: {
      const never: never = kind;
      throw new Error(`scope: no rule for events of kind ${String(never)}`);
    }
  }
};

/**
 * The scope parts whose stream can publish an event of `type`: none for a type the pseudonymised stream never
 * publishes (PUBLIC_DATA `null`, left out before any scope is asked), else its kind's rule.
 */
export const scopePartsPublishing = (type: EventType): readonly ScopePart[] =>
  PUBLIC_DATA[type] === null ? [] : scopeRuleOf(EVENT_KIND[type]).parts(type);
